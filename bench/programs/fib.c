/* fib: call-heavy recursion: naive Fibonacci, Hofstadter's mutually recursive female/male
 * sequences, Takeuchi's function and Ackermann's function.
 *
 * Kiln benchmark workload (bench/programs). Measures call and return overhead, argument
 * passing and stack depth (ackermann(2, n) and ackermann(3, n) recurse thousands deep).
 * Usage: fib [scale]   (scale multiplies the number of repetitions; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int32_t hof_male(int32_t n);

static int32_t hof_female(int32_t n) { return n == 0 ? 1 : n - hof_male(hof_female(n - 1)); }

static int32_t hof_male(int32_t n) { return n == 0 ? 0 : n - hof_female(hof_male(n - 1)); }

static int32_t tak(int32_t x, int32_t y, int32_t z) {
    if (y >= x)
        return z;
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

static uint32_t ackermann(uint32_t m, uint32_t n) {
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

/* Keeps the compiler from folding a call with constant arguments. */
static volatile uint32_t opaque_zero = 0;

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    uint64_t sum = 0;
    for (int r = 0; r < scale; r++) {
        uint32_t z = opaque_zero;
        uint32_t f = fib(37 + z);
        int32_t hf = 0;
        for (int32_t i = 0; i < 80; i++)
            hf += hof_female(i + (int32_t)z) - hof_male(i + (int32_t)z);
        int32_t t = tak(30 + (int32_t)z, 20, 10);
        uint32_t a = ackermann(2 + z, 3000) + ackermann(3 + z, 9);
        printf("fib(37) = %u, hofstadter = %d, tak = %d, ackermann = %u\n", f, hf, t, a);
        sum = sum * 1000003 + f;
        sum = sum * 1000003 + (uint32_t)hf;
        sum = sum * 1000003 + (uint32_t)t;
        sum = sum * 1000003 + a;
    }
    printf("checksum: %016llx\n", (unsigned long long)sum);
    return 0;
}
