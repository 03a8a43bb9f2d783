/* transport_util.c: deadlines, poll(2) waits, fd flags and the SIGPIPE
 * guard shared by the transports. */
#include "transport_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long long isf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long isf_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : isf_now_ms() + timeout_ms;
}

int isf_remaining_ms(long long deadline)
{
    long long left;

    if (deadline < 0)
        return -1;
    left = deadline - isf_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int isf_wait_fd(int fd, short events, long long deadline, const char *what,
                struct isf_error *e)
{
    struct pollfd p;
    int r;

    for (;;) {
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, isf_remaining_ms(deadline));
        if (r > 0 && (p.revents & POLLNVAL))
            return isf_error_set(e, ISF_EIO, "%s: invalid descriptor",
                                 what);
        if (r > 0)
            return 0;
        if (r == 0)
            return isf_error_set(e, ISF_ETIMEOUT, "%s: timed out", what);
        if (errno != EINTR)
            return isf_error_set(e, ISF_EIO, "%s: poll: %s", what,
                                 strerror(errno));
        /* EINTR: poll again with whatever time is left. */
    }
}

int isf_fd_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

long isf_fd_read(int fd, void *buf, size_t len, long long deadline,
                 const char *what, struct isf_error *e)
{
    ssize_t n;
    int r;

    if (len == 0)
        return isf_error_set(e, ISF_EUSAGE, "%s: empty buffer", what);
    if (len > LONG_MAX)
        len = LONG_MAX;
    for (;;) {
        n = read(fd, buf, len);
        if (n > 0)
            return (long)n;
        if (n == 0)
            return isf_error_set(e, ISF_ECLOSED, "%s: connection closed",
                                 what);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return isf_error_set(e, ISF_EIO, "%s: %s", what,
                                 strerror(errno));
        r = isf_wait_fd(fd, POLLIN, deadline, what, e);
        if (r < 0)
            return r;
    }
}

/* One write attempt: bytes written, or -1 with errno. */
static ssize_t write_once(int fd, int is_socket, const void *p, size_t n)
{
    struct isf_sigpipe_guard g;
    ssize_t w;

    if (is_socket)
        return send(fd, p, n, MSG_NOSIGNAL);
    isf_sigpipe_block(&g);
    w = write(fd, p, n);
    isf_sigpipe_restore(&g);
    return w;
}

int isf_fd_write(int fd, int is_socket, const void *buf, size_t len,
                 int timeout_ms, const char *what, struct isf_error *e)
{
    const char *p = buf;
    ssize_t w;
    int r;

    while (len > 0) {
        w = write_once(fd, is_socket, p, len);
        if (w >= 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET) /* the peer is gone */
            return isf_error_set(e, ISF_ECLOSED, "%s: %s", what,
                                 strerror(errno));
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return isf_error_set(e, ISF_EIO, "%s: %s", what,
                                 strerror(errno));
        /* A stall: each one gets the full timeout. */
        r = isf_wait_fd(fd, POLLOUT, isf_deadline(timeout_ms), what, e);
        if (r < 0)
            return r;
    }
    return 0;
}

void isf_sigpipe_block(struct isf_sigpipe_guard *g)
{
    sigset_t pipe_set, pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old_mask);
}

void isf_sigpipe_restore(struct isf_sigpipe_guard *g)
{
    static const struct timespec zero = {0, 0};
    sigset_t pipe_set, pending;
    int saved = errno; /* the caller still needs the write's errno */

    sigemptyset(&pending);
    if (!g->was_pending && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE) == 1) {
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        /* Ours: SIGPIPE is thread-directed, so consume it while blocked. */
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
    errno = saved;
}
