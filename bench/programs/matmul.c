/* matmul: dense f64 matrix multiplication, C = A * B, in i-k-j order over row-major arrays,
 * repeated with the previous product fed back in.
 *
 * Kiln benchmark workload (bench/programs). Streaming loads, multiplies and adds over arrays;
 * the inner loop vectorizes natively (SSE2) and with -msimd128. Entries are multiples of 1/8
 * with small magnitudes, so every product and sum is exact and the result does not depend on
 * evaluation order.
 * Usage: matmul [scale]   (scale multiplies the number of products; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 512
#define PRODUCTS 16

static void multiply(const double *a, const double *b, double *c, int n) {
    memset(c, 0, sizeof(double) * (size_t)n * (size_t)n);
    for (int i = 0; i < n; i++) {
        double *ci = c + (size_t)i * n;
        for (int k = 0; k < n; k++) {
            double aik = a[(size_t)i * n + k];
            const double *bk = b + (size_t)k * n;
            for (int j = 0; j < n; j++)
                ci[j] += aik * bk[j];
        }
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    int n = N;
    size_t cells = (size_t)n * (size_t)n;
    double *a = malloc(sizeof(double) * cells);
    double *b = malloc(sizeof(double) * cells);
    double *c = malloc(sizeof(double) * cells);
    if (!a || !b || !c) {
        fprintf(stderr, "matmul: out of memory\n");
        return 1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < cells; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        a[i] = (double)((int)(x % 17) - 8) / 8.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (double)((int)(x % 17) - 8) / 8.0;
    }
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int p = 0; p < PRODUCTS * scale; p++) {
        multiply(a, b, c, n);
        /* Fold the product back into A, kept small: entry -> (round(c * 8) mod 17 - 8) / 8. */
        for (size_t i = 0; i < cells; i++) {
            int64_t v = (int64_t)(c[i] * 8.0);
            hash ^= (uint64_t)v;
            hash *= 0x100000001b3ULL;
            int64_t m = v % 17;
            if (m < 0)
                m += 17;
            a[i] = (double)(m - 8) / 8.0;
        }
    }
    printf("checksum: %016llx\n", (unsigned long long)hash);
    free(a);
    free(b);
    free(c);
    return 0;
}
