/* hashmap: an open-addressing hash map (u64 keys and values, linear probing, backward-shift
 * deletion, power-of-two capacity) under a mix of inserts, lookups, updates and deletes.
 *
 * Kiln benchmark workload (bench/programs). 64-bit multiplies, unpredictable branches and
 * random access to a table larger than L1.
 * Usage: hashmap [scale]   (scale multiplies the number of rounds; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CAPACITY_BITS 18
#define CAPACITY (1u << CAPACITY_BITS)
#define LIVE_KEYS (CAPACITY / 2)
#define ROUNDS 140
#define EMPTY 0 /* key 0 marks an empty slot; keys are made nonzero */

struct slot {
    uint64_t key;
    uint64_t value;
};

struct map {
    struct slot *slots;
    uint32_t mask;
    uint32_t len;
};

static inline uint32_t slot_of(const struct map *m, uint64_t key) {
    return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - CAPACITY_BITS)) & m->mask;
}

/* Inserts or updates; returns 1 if the key was new. */
static int map_put(struct map *m, uint64_t key, uint64_t value) {
    uint32_t i = slot_of(m, key);
    for (;;) {
        struct slot *s = &m->slots[i];
        if (s->key == EMPTY) {
            s->key = key;
            s->value = value;
            m->len++;
            return 1;
        }
        if (s->key == key) {
            s->value = value;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
}

static struct slot *map_get(const struct map *m, uint64_t key) {
    uint32_t i = slot_of(m, key);
    for (;;) {
        struct slot *s = &m->slots[i];
        if (s->key == key)
            return s;
        if (s->key == EMPTY)
            return NULL;
        i = (i + 1) & m->mask;
    }
}

/* Removes the key if present, shifting later members of the probe run back so that no
 * tombstones are needed. Returns 1 if it was present. */
static int map_remove(struct map *m, uint64_t key) {
    uint32_t i = slot_of(m, key);
    for (;;) {
        if (m->slots[i].key == EMPTY)
            return 0;
        if (m->slots[i].key == key)
            break;
        i = (i + 1) & m->mask;
    }
    uint32_t hole = i;
    for (;;) {
        i = (i + 1) & m->mask;
        struct slot *s = &m->slots[i];
        if (s->key == EMPTY)
            break;
        uint32_t home = slot_of(m, s->key);
        /* s may move into the hole if its home is not cyclically within (hole, i]. */
        if (((i - home) & m->mask) >= ((i - hole) & m->mask)) {
            m->slots[hole] = *s;
            hole = i;
        }
    }
    m->slots[hole].key = EMPTY;
    m->slots[hole].value = 0;
    m->len--;
    return 1;
}

static uint64_t rng_state;

static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Keys come from a space of 2 * LIVE_KEYS values, so about half of random lookups hit. */
static inline uint64_t key_at(uint64_t n) { return (n * 0xd6e8feb86659fd93ULL) | 1; }

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    struct map m = {calloc(CAPACITY, sizeof(struct slot)), CAPACITY - 1, 0};
    if (!m.slots) {
        fprintf(stderr, "hashmap: out of memory\n");
        return 1;
    }
    rng_state = 42;
    uint64_t sum = 0, hits = 0;
    for (uint32_t n = 0; n < LIVE_KEYS; n++)
        map_put(&m, key_at(n), n);
    for (int r = 0; r < ROUNDS * scale; r++) {
        for (uint32_t op = 0; op < LIVE_KEYS; op++) {
            uint64_t x = rng();
            uint64_t key = key_at(x % (2 * LIVE_KEYS));
            switch ((x >> 60) & 3) {
            case 0: { /* delete one key, insert another: the live count stays constant */
                if (map_remove(&m, key)) {
                    uint64_t other = key_at((x >> 20) % (2 * LIVE_KEYS));
                    if (!map_put(&m, other, x))
                        map_put(&m, key, x); /* other was present: put key back */
                }
                break;
            }
            case 1: { /* update */
                struct slot *s = map_get(&m, key);
                if (s)
                    s->value += x;
                break;
            }
            default: { /* lookup */
                struct slot *s = map_get(&m, key);
                if (s) {
                    hits++;
                    sum += s->value;
                }
                break;
            }
            }
        }
        if (m.len > CAPACITY * 3 / 4) {
            fprintf(stderr, "hashmap: load factor grew to %u\n", m.len);
            return 1;
        }
    }
    /* Verify: every stored key is found by lookup and the count matches. */
    uint32_t counted = 0;
    for (uint32_t i = 0; i < CAPACITY; i++) {
        if (m.slots[i].key != EMPTY) {
            counted++;
            if (map_get(&m, m.slots[i].key) != &m.slots[i]) {
                fprintf(stderr, "hashmap: slot %u unreachable\n", i);
                return 1;
            }
            sum = sum * 31 + m.slots[i].key + m.slots[i].value;
        }
    }
    if (counted != m.len) {
        fprintf(stderr, "hashmap: %u slots used, length %u\n", counted, m.len);
        return 1;
    }
    printf("live keys: %u, hits: %llu\n", m.len, (unsigned long long)hits);
    printf("checksum: %016llx\n", (unsigned long long)sum);
    free(m.slots);
    return 0;
}
