/* Hello, world in C for WASI, built by examples/build.sh:
 *
 *     clang --target=wasm32-wasi -O2 -s -o examples/hello.wasm examples/hello.c
 *     kiln run examples/hello.wasm [NAME]
 */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("Hello, %s!\n", argc > 1 ? argv[1] : "world");
    return 0;
}
