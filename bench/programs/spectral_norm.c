/* spectral-norm: the largest singular value of the infinite matrix
 * a(i,j) = 1 / ((i+j)(i+j+1)/2 + i + 1), truncated to N x N, by the power method on A^T A.
 *
 * Kiln benchmark workload (bench/programs). Dominated by f64 division and dot products over
 * arrays; the sums are sequential (no -ffast-math), so native and wasm agree bit for bit.
 * Usage: spectral_norm [scale]   (scale multiplies the iteration count; default 1)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 3500
#define ITERATIONS 10

static double entry(int i, int j) {
    int ij = i + j;
    return 1.0 / (double)(ij * (ij + 1) / 2 + i + 1);
}

/* out = A * in */
static void mul_a(const double *in, double *out, int n) {
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < n; j++)
            s += entry(i, j) * in[j];
        out[i] = s;
    }
}

/* out = A^T * in */
static void mul_at(const double *in, double *out, int n) {
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < n; j++)
            s += entry(j, i) * in[j];
        out[i] = s;
    }
}

static void mul_ata(const double *in, double *out, double *tmp, int n) {
    mul_a(in, tmp, n);
    mul_at(tmp, out, n);
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    int n = N;
    double *u = malloc(sizeof(double) * (size_t)n);
    double *v = malloc(sizeof(double) * (size_t)n);
    double *tmp = malloc(sizeof(double) * (size_t)n);
    if (!u || !v || !tmp) {
        fprintf(stderr, "spectral_norm: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++)
        u[i] = 1.0;
    for (int it = 0; it < ITERATIONS * scale; it++) {
        mul_ata(u, v, tmp, n);
        mul_ata(v, u, tmp, n);
    }
    double vbv = 0.0, vv = 0.0;
    for (int i = 0; i < n; i++) {
        vbv += u[i] * v[i];
        vv += v[i] * v[i];
    }
    double norm = sqrt(vbv / vv);
    printf("norm: %.9f\n", norm);
    printf("checksum: %016llx\n", (unsigned long long)llround(norm * 1e15));
    free(u);
    free(v);
    free(tmp);
    return 0;
}
