/* A one-shot echo server on the preopened listening socket (fd 3): accepts one connection,
 * reads a message, sends it back upper-cased, shuts the connection down. Prints what it did. */
#include "check.h"
#include <ctype.h>

int main(void) {
    __wasi_fdstat_t st;
    OK(__wasi_fd_fdstat_get(3, &st));
    CHECK(st.fs_filetype == __WASI_FILETYPE_SOCKET_STREAM);
    __wasi_prestat_t ps;
    ERRNO(__wasi_fd_prestat_get(3, &ps), __WASI_ERRNO_BADF);
    __wasi_fd_t conn = 0;
    OK(__wasi_sock_accept(3, 0, &conn));
    char buf[64] = {0};
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
    __wasi_size_t n = 0;
    __wasi_roflags_t ro = 0;
    /* Peek first: the data stays. */
    OK(__wasi_sock_recv(conn, &iov, 1, __WASI_RIFLAGS_RECV_PEEK, &n, &ro));
    CHECK(n > 0);
    OK(__wasi_sock_recv(conn, &iov, 1, 0, &n, &ro));
    CHECK(ro == 0);
    printf("received %.*s\n", (int)n, buf);
    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)toupper((unsigned char)buf[i]);
    }
    __wasi_ciovec_t ciov = {(const uint8_t *)buf, n};
    __wasi_size_t sent = 0;
    OK(__wasi_sock_send(conn, &ciov, 1, 0, &sent));
    CHECK(sent == n);
    OK(__wasi_sock_shutdown(conn, __WASI_SDFLAGS_WR));
    ERRNO(__wasi_sock_shutdown(conn, 9), __WASI_ERRNO_INVAL);
    ERRNO(__wasi_sock_recv(3, &iov, 1, 0, &n, &ro), __WASI_ERRNO_NOTCONN);
    OK(__wasi_fd_close(conn));
    puts("sock ok");
    return 0;
}
