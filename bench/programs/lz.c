/* lz: an LZ77 compressor (hash chains over a 64 KiB window) and its decompressor, round-
 * tripping generated text-like data and verifying every byte.
 *
 * Kiln benchmark workload (bench/programs). Byte loads, hashing, memory compares and copies.
 * Format: a sequence of records, each a token byte (high nibble: literal count, low nibble:
 * match length - 4; 15 in either means "more in following bytes, each adding up to 255"),
 * the literals, then a 2-byte little-endian match offset (absent after the last literals).
 * Usage: lz [scale]   (scale multiplies the number of rounds; default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_SIZE (2 * 1024 * 1024)
#define ROUNDS 10
#define WINDOW 65535
#define HASH_BITS 15
#define MAX_CHAIN 32
#define MIN_MATCH 4

static uint32_t rng_state;

static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Text-like input: words from a generated vocabulary with a skewed distribution, punctuation
 * and occasional runs of random bytes (incompressible stretches). */
static void generate(uint8_t *out, size_t size, uint32_t seed) {
    static char vocab[512][12];
    static int vlen[512];
    rng_state = seed;
    for (int w = 0; w < 512; w++) {
        int len = 2 + (int)(rng() % 9);
        for (int i = 0; i < len; i++)
            vocab[w][i] = (char)('a' + rng() % 26);
        vlen[w] = len;
    }
    size_t pos = 0;
    while (pos < size) {
        uint32_t r = rng();
        if ((r & 1023) == 0) {
            int n = 16 + (int)(rng() % 64);
            for (int i = 0; i < n && pos < size; i++)
                out[pos++] = (uint8_t)rng();
            continue;
        }
        /* Skew: small indices are far more frequent. */
        uint32_t w = (r >> 10) % 512;
        w = (w * w) / 512;
        for (int i = 0; i < vlen[w] && pos < size; i++)
            out[pos++] = (uint8_t)vocab[w][i];
        if (pos < size)
            out[pos++] = (r >> 28) == 0 ? '.' : (r >> 28) == 1 ? '\n' : ' ';
    }
}

static size_t put_length(uint8_t *out, size_t n) {
    size_t k = 0;
    while (n >= 255) {
        out[k++] = 255;
        n -= 255;
    }
    out[k++] = (uint8_t)n;
    return k;
}

static inline uint32_t hash4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static size_t emit(uint8_t *out, const uint8_t *lit, size_t nlit, size_t mlen, size_t offset,
                   int last) {
    size_t o = 0;
    size_t ml = last ? 0 : mlen - MIN_MATCH;
    uint8_t *token = &out[o++];
    *token = (uint8_t)((nlit >= 15 ? 15 : nlit) << 4 | (ml >= 15 ? 15 : ml));
    if (nlit >= 15)
        o += put_length(out + o, nlit - 15);
    memcpy(out + o, lit, nlit);
    o += nlit;
    if (!last) {
        out[o++] = (uint8_t)offset;
        out[o++] = (uint8_t)(offset >> 8);
        if (ml >= 15)
            o += put_length(out + o, ml - 15);
    }
    return o;
}

/* Returns the compressed size. out must hold at least size + size / 255 + 16 bytes. */
static size_t compress(const uint8_t *in, size_t size, uint8_t *out, int32_t *head,
                       int32_t *chain) {
    for (size_t i = 0; i < (1u << HASH_BITS); i++)
        head[i] = -1;
    size_t o = 0, anchor = 0, pos = 0;
    while (pos + MIN_MATCH <= size) {
        uint32_t h = hash4(in + pos);
        int32_t cand = head[h];
        chain[pos & WINDOW] = cand;
        head[h] = (int32_t)pos;
        size_t best_len = 0, best_off = 0;
        for (int depth = 0; cand >= 0 && depth < MAX_CHAIN; depth++) {
            size_t off = pos - (size_t)cand;
            if (off > WINDOW)
                break;
            if (pos + best_len < size && in[cand + best_len] == in[pos + best_len]) {
                size_t len = 0;
                while (pos + len < size && in[cand + len] == in[pos + len])
                    len++;
                if (len > best_len) {
                    best_len = len;
                    best_off = off;
                }
            }
            int32_t next = chain[cand & WINDOW];
            if (next >= cand)
                break;
            cand = next;
        }
        if (best_len >= MIN_MATCH) {
            o += emit(out + o, in + anchor, pos - anchor, best_len, best_off, 0);
            /* Index the positions the match covers. */
            size_t end = pos + best_len;
            for (pos++; pos < end && pos + MIN_MATCH <= size; pos++) {
                uint32_t hh = hash4(in + pos);
                chain[pos & WINDOW] = head[hh];
                head[hh] = (int32_t)pos;
            }
            pos = end;
            anchor = end;
        } else {
            pos++;
        }
    }
    o += emit(out + o, in + anchor, size - anchor, 0, 0, 1);
    return o;
}

static size_t get_length(const uint8_t *in, size_t *i, size_t base) {
    size_t n = base;
    if (base == 15) {
        uint8_t b;
        do {
            b = in[(*i)++];
            n += b;
        } while (b == 255);
    }
    return n;
}

/* Returns the decompressed size, or (size_t)-1 on malformed input. */
static size_t decompress(const uint8_t *in, size_t size, uint8_t *out, size_t cap) {
    size_t i = 0, o = 0;
    while (i < size) {
        uint8_t token = in[i++];
        size_t nlit = get_length(in, &i, token >> 4);
        if (i + nlit > size || o + nlit > cap)
            return (size_t)-1;
        memcpy(out + o, in + i, nlit);
        i += nlit;
        o += nlit;
        if (i == size)
            break;
        if (i + 2 > size)
            return (size_t)-1;
        size_t off = in[i] | (size_t)in[i + 1] << 8;
        i += 2;
        size_t mlen = get_length(in, &i, token & 15) + MIN_MATCH;
        if (off == 0 || off > o || o + mlen > cap)
            return (size_t)-1;
        /* Byte by byte: matches may overlap their own output. */
        const uint8_t *src = out + o - off;
        for (size_t k = 0; k < mlen; k++)
            out[o + k] = src[k];
        o += mlen;
    }
    return o;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    size_t cap = INPUT_SIZE + INPUT_SIZE / 255 + 16;
    uint8_t *in = malloc(INPUT_SIZE), *packed = malloc(cap), *back = malloc(INPUT_SIZE);
    int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
    int32_t *chain = malloc(sizeof(int32_t) * (WINDOW + 1));
    if (!in || !packed || !back || !head || !chain) {
        fprintf(stderr, "lz: out of memory\n");
        return 1;
    }
    uint64_t hash = 0xcbf29ce484222325ULL, total = 0;
    for (int r = 0; r < ROUNDS * scale; r++) {
        generate(in, INPUT_SIZE, 0x9e3779b9u + (uint32_t)r);
        size_t n = compress(in, INPUT_SIZE, packed, head, chain);
        size_t m = decompress(packed, n, back, INPUT_SIZE);
        if (m != INPUT_SIZE || memcmp(in, back, INPUT_SIZE) != 0) {
            fprintf(stderr, "lz: round %d: round trip failed (%zu of %d bytes)\n", r, m,
                    INPUT_SIZE);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            hash ^= packed[i];
            hash *= 0x100000001b3ULL;
        }
        total += n;
    }
    printf("compressed: %llu bytes from %llu\n", (unsigned long long)total,
           (unsigned long long)INPUT_SIZE * (unsigned long long)(ROUNDS * scale));
    printf("checksum: %016llx\n", (unsigned long long)hash);
    free(in);
    free(packed);
    free(back);
    free(head);
    free(chain);
    return 0;
}
