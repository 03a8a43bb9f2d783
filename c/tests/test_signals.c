/* test_signals.c: unit tests for signals.c: flags taken once, the
 * self-pipe waking a poll, the stop state, and a second TERM or INT
 * exiting at once (in child processes, as that ends the process). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "signals.h"

static void test_take(void)
{
    struct isf_error e;
    struct pollfd slot[1];
    int signaled = -1;

    CHECK_E(isf_signals_install(&e) == 0, e);
    CHECK_E(isf_signals_install(&e) == 0, e); /* idempotent */
    CHECK(isf_signals_take() == 0);
    raise(SIGUSR1);
    raise(SIGHUP);
    CHECK(isf_signals_pending());
    /* pending: returns at once though asked to wait forever */
    CHECK_E(isf_signals_poll(slot, 0, -1, &signaled, &e) == 0, e);
    CHECK(signaled == 1);
    CHECK(isf_signals_take() == (ISF_SIG_USR1 | ISF_SIG_HUP));
    CHECK(isf_signals_take() == 0);
    CHECK_E(isf_signals_poll(slot, 0, 20, &signaled, &e) == 0, e);
    CHECK(signaled == 0);
    CHECK(isf_signals_stopping() == 0);
}

/* A readable fd is reported among fds; the pipe slot is not counted. */
static void test_poll_fd(void)
{
    struct isf_error e;
    struct pollfd fds[2];
    int p[2], signaled = -1;

    if (pipe(p) != 0) {
        CHECK(0);
        return;
    }
    fds[0].fd = p[0];
    fds[0].events = POLLIN;
    CHECK_E(isf_signals_poll(fds, 1, 10, &signaled, &e) == 0, e);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_E(isf_signals_poll(fds, 1, 10000, &signaled, &e) == 1, e);
    CHECK(fds[0].revents & POLLIN);
    CHECK(signaled == 0);
    close(p[0]);
    close(p[1]);
}

/* In a child: the first TERM/INT sets the stop state (and is taken like
 * the others); the second exits with 128 + signo. Returns the status. */
static int child_stop(int first, int second)
{
    pid_t pid = fork();
    int status = 0;

    if (pid == 0) {
        struct isf_error e;
        if (isf_signals_install(&e) != 0)
            _exit(90);
        raise(first);
        if (isf_signals_stopping() != first)
            _exit(91);
        if (isf_signals_take() == 0 || isf_signals_stopping() != first)
            _exit(92);
        raise(second);
        _exit(93);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static void test_second_signal(void)
{
    int st = child_stop(SIGTERM, SIGINT);

    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGINT);
    st = child_stop(SIGINT, SIGTERM);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
    st = child_stop(SIGTERM, SIGTERM);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
}

int main(void)
{
    test_poll_fd();
    test_take();
    test_poll_fd();
    test_second_signal();
    return check_report("test_signals");
}
