/* sort_search: sorts 512 Ki pseudo-random 32-bit keys with an introsort (quicksort with
 * median-of-three pivots, heapsort when recursion gets deep, insertion sort for short runs),
 * checks the order, then runs binary searches for present and absent keys.
 *
 * Kiln benchmark workload (bench/programs). Branchy integer code, recursion and random
 * memory access. The sort is ours rather than libc's qsort, so native and wasm run the same
 * algorithm.
 * Usage: sort_search [scale]   (scale multiplies the number of rounds; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define KEYS (512 * 1024)
#define ROUNDS 4
#define LOOKUPS (512 * 1024)

static uint64_t rng_state;

static uint64_t rng(void) {
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void insertion_sort(uint32_t *a, int n) {
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void sift_down(uint32_t *a, int root, int n) {
    uint32_t v = a[root];
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n)
            break;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[child] <= v)
            break;
        a[root] = a[child];
        root = child;
    }
    a[root] = v;
}

static void heap_sort(uint32_t *a, int n) {
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(a, i, n);
    for (int end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

static inline void swap(uint32_t *a, uint32_t *b) {
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void intro_sort(uint32_t *a, int n, int depth) {
    while (n > 24) {
        if (depth-- == 0) {
            heap_sort(a, n);
            return;
        }
        /* Median of three into a[0], then Hoare partition around it. */
        int mid = n / 2;
        if (a[mid] < a[0])
            swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap(&a[n - 1], &a[mid]);
        swap(&a[0], &a[mid]);
        uint32_t pivot = a[0];
        int i = 0, j = n;
        for (;;) {
            do
                i++;
            while (i < n && a[i] < pivot);
            do
                j--;
            while (a[j] > pivot);
            if (i >= j)
                break;
            swap(&a[i], &a[j]);
        }
        swap(&a[0], &a[j]);
        /* Recurse into the smaller side, loop on the larger. */
        if (j < n - j - 1) {
            intro_sort(a, j, depth);
            a += j + 1;
            n -= j + 1;
        } else {
            intro_sort(a + j + 1, n - j - 1, depth);
            n = j;
        }
    }
    insertion_sort(a, n);
}

/* Index of the first element >= key. */
static int lower_bound(const uint32_t *a, int n, uint32_t key) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    uint32_t *keys = malloc(sizeof(uint32_t) * KEYS);
    if (!keys) {
        fprintf(stderr, "sort_search: out of memory\n");
        return 1;
    }
    uint64_t sum = 0;
    long found = 0;
    for (int r = 0; r < ROUNDS * scale; r++) {
        rng_state = 0x5eed0000ULL + (uint64_t)r;
        /* Round 1 has many duplicates, to exercise equal keys. */
        uint32_t mask = (r % 3 == 1) ? 0xffffu : 0xffffffffu;
        for (int i = 0; i < KEYS; i++)
            keys[i] = (uint32_t)rng() & mask;
        intro_sort(keys, KEYS, 2 * 19);
        for (int i = 1; i < KEYS; i++) {
            if (keys[i - 1] > keys[i]) {
                fprintf(stderr, "sort_search: round %d: not sorted at %d\n", r, i);
                return 1;
            }
        }
        for (int q = 0; q < LOOKUPS; q++) {
            uint32_t key;
            if (q & 1)
                key = keys[rng() % KEYS];
            else
                key = (uint32_t)rng() & mask;
            int at = lower_bound(keys, KEYS, key);
            if (at < KEYS && keys[at] == key)
                found++;
            sum = sum * 31 + (uint64_t)at;
        }
        for (int i = 0; i < KEYS; i += 4096)
            sum = sum * 31 + keys[i];
    }
    printf("found: %ld\n", found);
    printf("checksum: %016llx\n", (unsigned long long)sum);
    free(keys);
    return 0;
}
