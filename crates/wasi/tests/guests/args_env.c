/* Prints its arguments and environment, one per line, then exits with the status given as
 * the first argument (if any): the harness checks argv/environ passing and exit codes. */
#include "check.h"

extern char **environ;

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        printf("arg %d: %s\n", i, argv[i]);
    }
    for (char **e = environ; *e; e++) {
        printf("env: %s\n", *e);
    }
    __wasi_size_t count = 0, size = 0;
    OK(__wasi_args_sizes_get(&count, &size));
    CHECK((int)count == argc);
    OK(__wasi_environ_sizes_get(&count, &size));
    const char *greeting = getenv("GREETING");
    if (greeting) {
        printf("greeting: %s\n", greeting);
    }
    fflush(stdout);
    fputs("to stderr\n", stderr);
    return argc > 1 ? atoi(argv[1]) : 0;
}
