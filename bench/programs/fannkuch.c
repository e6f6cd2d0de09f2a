/* fannkuch-redux: for every permutation of 1..n, count the prefix reversals ("pancake flips")
 * until 1 is in front; report the maximum and an alternating-sign sum of the counts.
 *
 * Kiln benchmark workload (bench/programs). Small-array integer work with unpredictable
 * branches and byte loads/stores. Permutations are enumerated by a rotation counter so that
 * their order (and so the alternating sum) is fixed.
 * Usage: fannkuch [scale]   (scale repeats the whole enumeration; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 10
#define ROUNDS 6

static void run(int n, int64_t *checksum, int *max_flips) {
    uint8_t perm[16], work[16];
    int count[16];
    for (int i = 0; i < n; i++)
        perm[i] = (uint8_t)i;
    for (int i = 0; i < n; i++)
        count[i] = i + 1;
    int64_t sum = 0;
    int maxf = 0;
    int64_t index = 0;
    for (;;) {
        /* Count the flips of the current permutation. */
        if (perm[0] != 0) {
            memcpy(work, perm, (size_t)n);
            int flips = 0;
            int first = work[0];
            while (first != 0) {
                /* Reverse work[0..first]. */
                for (int lo = 0, hi = first; lo < hi; lo++, hi--) {
                    uint8_t t = work[lo];
                    work[lo] = work[hi];
                    work[hi] = t;
                }
                flips++;
                first = work[0];
            }
            if (flips > maxf)
                maxf = flips;
            sum += (index & 1) ? -flips : flips;
        }
        index++;
        /* Next permutation: rotate the first r+1 elements left, for the lowest r whose
         * counter has not run out. */
        int r = 1;
        for (;;) {
            if (r == n) {
                *checksum += sum;
                if (maxf > *max_flips)
                    *max_flips = maxf;
                return;
            }
            uint8_t head = perm[0];
            for (int i = 0; i < r; i++)
                perm[i] = perm[i + 1];
            perm[r] = head;
            if (--count[r] > 0)
                break;
            count[r] = r + 1;
            r++;
        }
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    int64_t checksum = 0;
    int max_flips = 0;
    for (int round = 0; round < ROUNDS * scale; round++) {
        /* Alternate n so that no round is a copy of the previous one. */
        run(N - (round & 1), &checksum, &max_flips);
    }
    printf("max flips: %d\n", max_flips);
    printf("checksum: %lld\n", (long long)checksum * 100 + max_flips);
    return 0;
}
