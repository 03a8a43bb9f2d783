/* signals.c: TERM, INT, HUP and USR1 as flags plus a self-pipe, so that
 * a program waiting in poll(2) wakes up for them, and the stop state:
 * the first TERM or INT asks for a clean stop, a second one exits at
 * once. Handlers only touch sig_atomic_t flags, write(2) and _exit. */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
static const unsigned bits[] = {ISF_SIG_TERM, ISF_SIG_INT, ISF_SIG_HUP,
                                ISF_SIG_USR1};
#define NHANDLED (sizeof handled / sizeof handled[0])

static volatile sig_atomic_t got[NHANDLED];
static volatile sig_atomic_t stop_signo;
static int pipe_r = -1, pipe_w = -1;

static void on_signal(int signo)
{
    static const char msg[] = "imapsift: second signal, exiting now\n";
    int saved = errno;
    size_t i;

    if (signo == SIGTERM || signo == SIGINT) {
        if (stop_signo != 0) {
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            _exit(128 + signo);
        }
        stop_signo = signo;
    }
    for (i = 0; i < NHANDLED; i++)
        if (handled[i] == signo)
            got[i] = 1;
    /* A full pipe already wakes poll; the flag is what counts. */
    if (pipe_w >= 0) {
        ssize_t w = write(pipe_w, "", 1);
        (void)w;
    }
    errno = saved;
}

static int nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fl = fcntl(fd, F_GETFD);
    return fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 ? -1 : 0;
}

static int make_pipe(struct isf_error *e)
{
    int fds[2];

    if (pipe(fds) != 0)
        return isf_error_set(e, ISF_EIO, "signal pipe: %s", strerror(errno));
    if (nonblock_cloexec(fds[0]) < 0 || nonblock_cloexec(fds[1]) < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return isf_error_set(e, ISF_EIO, "signal pipe: %s", strerror(err));
    }
    pipe_r = fds[0];
    pipe_w = fds[1];
    return 0;
}

/* SA_RESTART keeps the rest of the program (stdio, waitpid) free of
 * EINTR; poll(2) and nanosleep(2) are interrupted regardless, and the
 * self-pipe wakes a poll that starts after the flag was checked. */
int isf_signals_install(struct isf_error *e)
{
    struct sigaction sa;
    size_t i;
    int rc;

    if (pipe_r >= 0)
        return 0;
    if ((rc = make_pipe(e)) < 0)
        return rc;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < NHANDLED; i++)
        sigaddset(&sa.sa_mask, handled[i]);
    for (i = 0; i < NHANDLED; i++)
        if (sigaction(handled[i], &sa, NULL) != 0)
            return isf_error_set(e, ISF_EIO, "sigaction: %s",
                                 strerror(errno));
    return 0;
}

int isf_signals_installed(void)
{
    return pipe_r >= 0;
}

int isf_signals_pending(void)
{
    size_t i;

    for (i = 0; i < NHANDLED; i++)
        if (got[i])
            return 1;
    return 0;
}

/* Flags first, pipe second: a signal in between leaves its flag set,
 * which makes the next poll return at once even though its byte was
 * drained. */
unsigned isf_signals_take(void)
{
    unsigned out = 0;
    char junk[64];
    size_t i;

    for (i = 0; i < NHANDLED; i++)
        if (got[i]) {
            got[i] = 0;
            out |= bits[i];
        }
    if (pipe_r >= 0)
        while (read(pipe_r, junk, sizeof junk) > 0)
            ;
    return out;
}

int isf_signals_stopping(void)
{
    return (int)stop_signo;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A poll(2) timeout for what is left before deadline (< 0: none). */
static int ms_left(long long deadline)
{
    long long left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    if (left < 0)
        return 0;
    return left > 1000000000LL ? 1000000000 : (int)left;
}

static int count_ready(const struct pollfd *fds, size_t n)
{
    int ready = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (fds[i].revents != 0)
            ready++;
    return ready;
}

int isf_signals_poll(struct pollfd *fds, size_t n, long long timeout_ms,
                     int *signaled, struct isf_error *e)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    nfds_t total = (nfds_t)n;
    char junk[64];
    int rc, ready;

    if (pipe_r >= 0) {
        fds[n].fd = pipe_r;
        fds[n].events = POLLIN;
        total++;
    }
    for (;;) {
        int wait = isf_signals_pending() ? 0 : ms_left(deadline);
        rc = poll(fds, total, wait);
        if (rc < 0 && errno != EINTR)
            return isf_error_set(e, ISF_EIO, "poll: %s", strerror(errno));
        if (rc < 0)
            continue; /* the flag, or the time left, decides next round */
        ready = count_ready(fds, n);
        *signaled = isf_signals_pending();
        if (ready > 0 || *signaled || rc == 0)
            return ready;
        /* Only a byte without its flag (taken between the two): drop it. */
        while (read(pipe_r, junk, sizeof junk) > 0)
            ;
    }
}
