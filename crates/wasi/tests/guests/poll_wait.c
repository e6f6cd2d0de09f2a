/* poll_oneoff on the host's stdin (a pipe the harness keeps open): first a 100 ms timeout
 * wins over a stdin that has no data ("timeout"), then a wait on stdin alone returns once the
 * harness writes a line ("ready" and the line). */
#include "check.h"

int main(void) {
    __wasi_subscription_t subs[2];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 1;
    subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[0].u.u.fd_read.file_descriptor = 0;
    subs[1].userdata = 2;
    subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[1].u.u.clock.timeout = 100000000;
    __wasi_event_t ev[2];
    __wasi_size_t n = 0;
    OK(__wasi_poll_oneoff(subs, ev, 2, &n));
    CHECK(n == 1 && ev[0].userdata == 2);
    puts("timeout");
    fflush(stdout);
    OK(__wasi_poll_oneoff(subs, ev, 1, &n));
    CHECK(n == 1 && ev[0].userdata == 1 && ev[0].error == 0);
    CHECK(ev[0].fd_readwrite.nbytes > 0);
    puts("ready");
    char line[64] = {0};
    CHECK(read_some(0, line, sizeof line - 1) > 0);
    fputs(line, stdout);
    return 0;
}
