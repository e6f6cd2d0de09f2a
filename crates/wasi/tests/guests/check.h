/* Assertions for the WASI test guests: a failed check prints where and exits with 99, so the
 * Rust harness reports the exact line. `ERRNO(call, expected)` checks a raw WASI call's errno. */
#ifndef KILN_CHECK_H
#define KILN_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(99);                                                                \
        }                                                                            \
    } while (0)

#define ERRNO(call, expected)                                                        \
    do {                                                                             \
        __wasi_errno_t e_ = (call);                                                  \
        if (e_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s returned errno %d, expected %d\n", __FILE__,  \
                    __LINE__, #call, (int)e_, (int)(expected));                      \
            exit(99);                                                                \
        }                                                                            \
    } while (0)

#define OK(call) ERRNO(call, 0)

/* Rights for a read-write file descriptor. */
#define FILE_RW                                                                              \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |                \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | \
     __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS |             \
     __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_SYNC |           \
     __WASI_RIGHTS_FD_DATASYNC)

static inline __wasi_fd_t open_file(__wasi_fd_t dir, const char *path, __wasi_oflags_t oflags,
                                    __wasi_rights_t rights) {
    __wasi_fd_t fd = 0;
    __wasi_errno_t e = __wasi_path_open(dir, 0, path, oflags, rights, rights, 0, &fd);
    if (e != 0) {
        fprintf(stderr, "open_file(%s) failed with errno %d\n", path, (int)e);
        exit(99);
    }
    return fd;
}

static inline void write_all(__wasi_fd_t fd, const char *s) {
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    __wasi_size_t n = 0;
    OK(__wasi_fd_write(fd, &iov, 1, &n));
    CHECK(n == strlen(s));
}

static inline size_t read_some(__wasi_fd_t fd, char *buf, size_t len) {
    __wasi_iovec_t iov = {(uint8_t *)buf, len};
    __wasi_size_t n = 0;
    OK(__wasi_fd_read(fd, &iov, 1, &n));
    return n;
}

#endif
