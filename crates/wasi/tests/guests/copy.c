/* cp SRC DST with stdio, as an ordinary program would write it: copies a file inside a
 * preopened directory. Exits 1 with a message on any error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC DST\n", argc > 0 ? argv[0] : "copy");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        fprintf(stderr, "copy: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        fprintf(stderr, "copy: cannot create %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            fprintf(stderr, "copy: write failed: %s\n", strerror(errno));
            return 1;
        }
        total += n;
    }
    if (ferror(in) || fclose(out) != 0) {
        fprintf(stderr, "copy: %s\n", strerror(errno));
        return 1;
    }
    fclose(in);
    printf("copied %zu bytes\n", total);
    return 0;
}
