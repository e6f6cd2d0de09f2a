/* Clocks, randomness, scheduling, signals, stdio descriptors, renumbering, and the socket
 * calls on descriptors that are not sockets. The harness preopens "sandbox" (fd 3) and runs
 * with an injected random source that fills buffers with 0xAB. Prints "misc ok". */
#include "check.h"

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
int32_t raw_proc_raise(int32_t sig);

static void test_clocks(void) {
    __wasi_timestamp_t res = 0, a = 0, b = 0;
    OK(__wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res));
    CHECK(res > 0 && res <= 1000000);
    OK(__wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res));
    CHECK(res > 0);
    OK(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &a));
    OK(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &b));
    CHECK(a <= b);
    OK(__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &a));
    CHECK(a > 1600000000ull * 1000000000ull); /* after 2020 */
    OK(__wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &a));
    OK(__wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &a));
    ERRNO(__wasi_clock_time_get(17, 1, &a), __WASI_ERRNO_INVAL);
    ERRNO(__wasi_clock_res_get(17, &a), __WASI_ERRNO_INVAL);
}

static void test_random_and_sched(void) {
    uint8_t buf[64];
    memset(buf, 0, sizeof buf);
    OK(__wasi_random_get(buf, sizeof buf));
    for (size_t i = 0; i < sizeof buf; i++) {
        CHECK(buf[i] == 0xAB);
    }
    OK(__wasi_random_get(buf, 0));
    OK(__wasi_sched_yield());
    CHECK(raw_proc_raise(6) == __WASI_ERRNO_NOTSUP);
}

static void test_stdio(void) {
    __wasi_fdstat_t st;
    OK(__wasi_fd_fdstat_get(0, &st));
    CHECK(st.fs_rights_base & __WASI_RIGHTS_FD_READ);
    CHECK((st.fs_rights_base & (__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL)) == 0);
    OK(__wasi_fd_fdstat_get(1, &st));
    CHECK(st.fs_rights_base & __WASI_RIGHTS_FD_WRITE);
    __wasi_filestat_t fst;
    OK(__wasi_fd_filestat_get(1, &fst));
    char c;
    __wasi_iovec_t iov = {(uint8_t *)&c, 1};
    __wasi_ciovec_t ciov = {(const uint8_t *)"!", 1};
    __wasi_size_t n;
    __wasi_filesize_t pos;
    ERRNO(__wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_SPIPE);
    ERRNO(__wasi_fd_tell(0, &pos), __WASI_ERRNO_SPIPE);
    ERRNO(__wasi_fd_pread(0, &iov, 1, 0, &n), __WASI_ERRNO_SPIPE);
    ERRNO(__wasi_fd_pwrite(1, &ciov, 1, 0, &n), __WASI_ERRNO_SPIPE);
    ERRNO(__wasi_fd_read(1, &iov, 1, &n), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_write(0, &ciov, 1, &n), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_write(77, &ciov, 1, &n), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_read(77, &iov, 1, &n), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_fdstat_get(77, &st), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_filestat_get(77, &fst), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_close(77), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_sync(77), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_advise(77, 0, 0, 0), __WASI_ERRNO_BADF);
    /* Non-blocking stdio is accepted. */
    OK(__wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_NONBLOCK));
    /* Writing zero iovecs writes nothing. */
    OK(__wasi_fd_write(1, &ciov, 0, &n));
    CHECK(n == 0);
}

static void test_renumber(void) {
    __wasi_fd_t a = open_file(3, "a", __WASI_OFLAGS_CREAT, FILE_RW);
    __wasi_fd_t b = open_file(3, "b", __WASI_OFLAGS_CREAT, FILE_RW);
    write_all(a, "from a");
    OK(__wasi_fd_renumber(a, b));
    ERRNO(__wasi_fd_close(a), __WASI_ERRNO_BADF);
    __wasi_filesize_t pos;
    OK(__wasi_fd_tell(b, &pos));
    CHECK(pos == 6); /* b is now a's descriptor */
    ERRNO(__wasi_fd_renumber(b, 99), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_renumber(99, b), __WASI_ERRNO_BADF);
    OK(__wasi_fd_renumber(b, b));
    /* The lowest free number is reused. */
    __wasi_fd_t c = open_file(3, "a", 0, FILE_RW);
    CHECK(c == a);
    OK(__wasi_fd_close(c));
    OK(__wasi_fd_close(b));
    OK(__wasi_path_unlink_file(3, "a"));
    OK(__wasi_path_unlink_file(3, "b"));
    /* A renumbered preopen keeps working under its new number. */
    __wasi_fd_t d = open_file(3, ".", __WASI_OFLAGS_DIRECTORY, 0);
    OK(__wasi_fd_renumber(3, d));
    __wasi_prestat_t ps;
    OK(__wasi_fd_prestat_get(d, &ps));
    ERRNO(__wasi_fd_prestat_get(3, &ps), __WASI_ERRNO_BADF);
    /* The target of a renumber must be open. */
    ERRNO(__wasi_fd_renumber(d, 3), __WASI_ERRNO_BADF);
}

static void test_sockets(void) {
    __wasi_fd_t fd = 0;
    char c;
    __wasi_iovec_t iov = {(uint8_t *)&c, 1};
    __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
    __wasi_size_t n;
    __wasi_roflags_t ro;
    ERRNO(__wasi_sock_accept(3, 0, &fd), __WASI_ERRNO_NOTSOCK);
    ERRNO(__wasi_sock_accept(1, 0, &fd), __WASI_ERRNO_NOTSOCK);
    ERRNO(__wasi_sock_accept(99, 0, &fd), __WASI_ERRNO_BADF);
    ERRNO(__wasi_sock_recv(0, &iov, 1, 0, &n, &ro), __WASI_ERRNO_NOTSOCK);
    ERRNO(__wasi_sock_recv(99, &iov, 1, 0, &n, &ro), __WASI_ERRNO_BADF);
    ERRNO(__wasi_sock_send(1, &ciov, 1, 0, &n), __WASI_ERRNO_NOTSOCK);
    ERRNO(__wasi_sock_send(99, &ciov, 1, 0, &n), __WASI_ERRNO_BADF);
    ERRNO(__wasi_sock_shutdown(1, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
    ERRNO(__wasi_sock_shutdown(99, __WASI_SDFLAGS_WR), __WASI_ERRNO_BADF);
}

int main(void) {
    test_clocks();
    test_random_and_sched();
    test_stdio();
    test_sockets();
    test_renumber();
    puts("misc ok");
    return 0;
}
