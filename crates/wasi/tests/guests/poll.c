/* poll_oneoff on clocks and on stdin. The harness feeds stdin "ping\n" from memory and
 * preopens "sandbox" (fd 3). Prints "poll ok". */
#include "check.h"
#include <time.h>

static __wasi_timestamp_t now(void) {
    __wasi_timestamp_t t = 0;
    OK(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t));
    return t;
}

static __wasi_subscription_t clock_sub(__wasi_userdata_t ud, __wasi_clockid_t id,
                                       __wasi_timestamp_t timeout, int abs) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.flags = abs ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
    return s;
}

static __wasi_subscription_t fd_sub(__wasi_userdata_t ud, __wasi_eventtype_t type,
                                    __wasi_fd_t fd) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = type;
    s.u.u.fd_read.file_descriptor = fd;
    return s;
}

static void test_clocks(void) {
    __wasi_event_t ev[4];
    __wasi_size_t n = 0;
    /* Relative monotonic timeout. */
    __wasi_timestamp_t t0 = now();
    __wasi_subscription_t s1 = clock_sub(42, __WASI_CLOCKID_MONOTONIC, 20000000, 0);
    OK(__wasi_poll_oneoff(&s1, ev, 1, &n));
    CHECK(n == 1 && ev[0].userdata == 42 && ev[0].type == __WASI_EVENTTYPE_CLOCK);
    CHECK(ev[0].error == 0);
    CHECK(now() - t0 >= 20000000);
    /* Absolute monotonic deadline. */
    t0 = now();
    __wasi_subscription_t s2 = clock_sub(7, __WASI_CLOCKID_MONOTONIC, t0 + 10000000, 1);
    OK(__wasi_poll_oneoff(&s2, ev, 1, &n));
    CHECK(n == 1 && ev[0].userdata == 7);
    CHECK(now() >= t0 + 10000000);
    /* A deadline in the past fires at once. */
    __wasi_subscription_t s3 = clock_sub(8, __WASI_CLOCKID_MONOTONIC, 1, 1);
    OK(__wasi_poll_oneoff(&s3, ev, 1, &n));
    CHECK(n == 1 && ev[0].userdata == 8);
    /* Realtime, relative and absolute. */
    __wasi_timestamp_t rt = 0;
    OK(__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &rt));
    __wasi_subscription_t s4[2] = {clock_sub(1, __WASI_CLOCKID_REALTIME, 5000000, 0),
                                   clock_sub(2, __WASI_CLOCKID_REALTIME, rt + 2000000000ull, 1)};
    t0 = now();
    OK(__wasi_poll_oneoff(s4, ev, 2, &n));
    CHECK(n == 1 && ev[0].userdata == 1); /* the shorter one */
    CHECK(now() - t0 < 1000000000ull);
    /* nanosleep goes through poll_oneoff. */
    t0 = now();
    struct timespec ts = {0, 15000000};
    CHECK(nanosleep(&ts, NULL) == 0);
    CHECK(now() - t0 >= 15000000);
    /* No subscriptions is inval. */
    ERRNO(__wasi_poll_oneoff(&s1, ev, 0, &n), __WASI_ERRNO_INVAL);
}

static void test_fds(void) {
    __wasi_event_t ev[4];
    __wasi_size_t n = 0;
    /* stdin has data: it is ready before a long timeout. */
    __wasi_subscription_t subs[2] = {fd_sub(10, __WASI_EVENTTYPE_FD_READ, 0),
                                     clock_sub(11, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0)};
    __wasi_timestamp_t t0 = now();
    OK(__wasi_poll_oneoff(subs, ev, 2, &n));
    CHECK(n == 1 && ev[0].userdata == 10 && ev[0].type == __WASI_EVENTTYPE_FD_READ);
    CHECK(ev[0].error == 0 && ev[0].fd_readwrite.nbytes == 5);
    CHECK(now() - t0 < 1000000000ull);
    char buf[16] = {0};
    CHECK(read_some(0, buf, sizeof buf) == 5 && strcmp(buf, "ping\n") == 0);
    /* At end of input it is still ready, with the hangup flag. */
    OK(__wasi_poll_oneoff(subs, ev, 2, &n));
    CHECK(n == 1 && ev[0].userdata == 10);
    CHECK(ev[0].fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP);
    CHECK(read_some(0, buf, sizeof buf) == 0);
    /* stdout is writable; a bad descriptor reports badf in its event. */
    __wasi_subscription_t more[3] = {fd_sub(20, __WASI_EVENTTYPE_FD_WRITE, 1),
                                     fd_sub(21, __WASI_EVENTTYPE_FD_READ, 99),
                                     clock_sub(22, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0)};
    OK(__wasi_poll_oneoff(more, ev, 3, &n));
    CHECK(n == 2);
    for (int i = 0; i < 2; i++) {
        if (ev[i].userdata == 20) {
            CHECK(ev[i].type == __WASI_EVENTTYPE_FD_WRITE && ev[i].error == 0);
        } else {
            CHECK(ev[i].userdata == 21 && ev[i].error == __WASI_ERRNO_BADF);
        }
    }
    /* A regular file is always ready, with the bytes left to read. */
    __wasi_fd_t f = open_file(3, "data", __WASI_OFLAGS_CREAT,
                              __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE |
                                  __WASI_RIGHTS_POLL_FD_READWRITE);
    write_all(f, "0123456789");
    __wasi_subscription_t fs = fd_sub(30, __WASI_EVENTTYPE_FD_READ, f);
    OK(__wasi_poll_oneoff(&fs, ev, 1, &n));
    CHECK(n == 1 && ev[0].userdata == 30 && ev[0].error == 0);
    OK(__wasi_fd_close(f));
    OK(__wasi_path_unlink_file(3, "data"));
}

int main(void) {
    test_clocks();
    test_fds();
    puts("poll ok");
    return 0;
}
