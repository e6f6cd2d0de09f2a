/* mandelbrot: a 1-bit-per-pixel bitmap of the Mandelbrot set over [-1.5, 0.5] x [-1, 1],
 * 50 iterations per pixel, hashed with FNV-1a.
 *
 * Kiln benchmark workload (bench/programs). A tight f64 loop with a data-dependent exit;
 * plain multiplies and adds, so native and wasm produce the same bits.
 * Usage: mandelbrot [scale]   (scale multiplies the number of frames; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE 3200
#define FRAMES 1
#define MAX_ITER 50

static uint64_t render(int size, double zoom, uint64_t hash, long *inside) {
    int row_bytes = (size + 7) / 8;
    uint8_t *row = malloc((size_t)row_bytes);
    if (!row) {
        fprintf(stderr, "mandelbrot: out of memory\n");
        exit(1);
    }
    for (int y = 0; y < size; y++) {
        double ci = (2.0 * y / size - 1.0) * zoom;
        for (int b = 0; b < row_bytes; b++)
            row[b] = 0;
        for (int x = 0; x < size; x++) {
            double cr = (2.0 * x / size - 1.5) * zoom;
            double zr = 0.0, zi = 0.0, zr2 = 0.0, zi2 = 0.0;
            int k = 0;
            while (k < MAX_ITER && zr2 + zi2 <= 4.0) {
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
                zr2 = zr * zr;
                zi2 = zi * zi;
                k++;
            }
            if (k == MAX_ITER) {
                row[x >> 3] |= (uint8_t)(0x80 >> (x & 7));
                (*inside)++;
            }
        }
        for (int b = 0; b < row_bytes; b++) {
            hash ^= row[b];
            hash *= 0x100000001b3ULL;
        }
    }
    free(row);
    return hash;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    uint64_t hash = 0xcbf29ce484222325ULL;
    long inside = 0;
    for (int f = 0; f < FRAMES * scale; f++)
        hash = render(SIZE, 1.0 - 0.01 * f, hash, &inside);
    printf("pixels inside: %ld\n", inside);
    printf("checksum: %016llx\n", (unsigned long long)hash);
    return 0;
}
