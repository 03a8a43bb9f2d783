/* transport_proc.c: the subprocess transport: `/bin/sh -c command` with
 * its stdin and stdout on two pipes (for tunnels such as ssh or a local
 * IMAP server binary), and reaping the child on close. */
#define _GNU_SOURCE 1 /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"
#include "transport_util.h"

extern char **environ;

/* How long close waits for the child to exit on its own after its stdin
 * closed, then after SIGTERM, before SIGKILL. */
#define PROC_GRACE_MS 2000
#define PROC_TERM_MS 1000

struct proc_transport {
    struct isf_transport base;
    pid_t pid;
};

static long proc_read(struct isf_transport *t, void *buf, size_t len,
                      int timeout_ms, struct isf_error *e)
{
    return isf_fd_read(t->rfd, buf, len, isf_deadline(timeout_ms),
                       "command read", e);
}

static int proc_write(struct isf_transport *t, const void *buf, size_t len,
                      int timeout_ms, struct isf_error *e)
{
    return isf_fd_write(t->wfd, 0, buf, len, timeout_ms, "command write",
                        e);
}

/* 1 once pid is reaped (or is not our child any more), 0 if still
 * running after wait_ms. Polls, since waitpid has no timeout. */
static int reap_within(pid_t pid, int wait_ms)
{
    long long deadline = isf_deadline(wait_ms);
    struct timespec nap = {0, 1000000}; /* 1 ms, doubling to 64 ms */
    pid_t r;

    for (;;) {
        r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* cannot wait for it at all: nothing to reap */
        if (isf_remaining_ms(deadline) == 0)
            return 0;
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 64000000)
            nap.tv_nsec *= 2;
    }
}

/* The child usually exits on its own once its stdin is closed; a stuck
 * one gets SIGTERM, then SIGKILL, so no zombie is ever left behind. */
static void proc_close(struct isf_transport *t)
{
    struct proc_transport *p = (struct proc_transport *)t;

    close(t->wfd);
    close(t->rfd);
    if (!reap_within(p->pid, PROC_GRACE_MS)) {
        kill(p->pid, SIGTERM);
        if (!reap_within(p->pid, PROC_TERM_MS)) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    free(p);
}

static const struct isf_transport_ops proc_ops = {
    "proc", proc_read, proc_write, proc_close, NULL,
};

/* Move fd to a number >= 3, so that the dup2 onto the child's stdin and
 * stdout can neither be a no-op (leaving FD_CLOEXEC set) nor clobber the
 * other pipe. Returns the fd to use, or -1. */
static int above_stdio(int fd)
{
    int nfd;

    if (fd > 2)
        return fd;
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    p[0] = p[1] = -1;
}

/* Two close-on-exec pipes: in (child's stdin) and out (child's stdout),
 * our ends non-blocking. The child's ends stay blocking: O_NONBLOCK is
 * shared through the open file description and would surprise it. */
static int make_pipes(int in[2], int out[2])
{
    int i;

    in[0] = in[1] = out[0] = out[1] = -1;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        goto fail;
    for (i = 0; i < 2; i++) {
        in[i] = above_stdio(in[i]);
        out[i] = above_stdio(out[i]);
        if (in[i] < 0 || out[i] < 0)
            goto fail;
    }
    if (isf_fd_nonblock_cloexec(in[1]) < 0 ||
        isf_fd_nonblock_cloexec(out[0]) < 0)
        goto fail;
    return 0;
fail:
    i = errno;
    close_pair(in);
    close_pair(out);
    errno = i;
    return -1;
}

/* Spawn attributes: the child starts with no blocked signals and the
 * default SIGPIPE action even if this process ignores or blocks SIGPIPE,
 * so a tunnel such as ssh dies normally when we stop reading. */
static int spawn_attrs(posix_spawnattr_t *attr)
{
    sigset_t none, pipe_set;
    int r;

    sigemptyset(&none);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    r = posix_spawnattr_init(attr);
    if (r != 0)
        return r;
    r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
                                           POSIX_SPAWN_SETSIGDEF);
    if (r == 0)
        r = posix_spawnattr_setsigmask(attr, &none);
    if (r == 0)
        r = posix_spawnattr_setsigdefault(attr, &pipe_set);
    if (r != 0)
        posix_spawnattr_destroy(attr);
    return r;
}

/* Start /bin/sh -c command with in[0] as stdin and out[1] as stdout.
 * Returns 0 or an errno value. */
static int spawn_shell(const char *command, int in[2], int out[2],
                       pid_t *pid)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int r;

    r = spawn_attrs(&attr);
    if (r != 0)
        return r;
    r = posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        /* Every pipe end is close-on-exec; the dup2 copies are not. */
        r = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        if (r == 0)
            r = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        if (r == 0)
            r = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    posix_spawnattr_destroy(&attr);
    return r;
}

/* The command text may hold secrets (a password on an ssh command line),
 * so no message repeats it. */
int isf_proc_spawn(const char *command, struct isf_transport **out,
                   struct isf_error *e)
{
    struct proc_transport *p;
    int in[2], outp[2], r;

    if (command == NULL || out == NULL)
        return isf_error_set(e, ISF_EUSAGE, "proc: missing command");
    p = malloc(sizeof *p);
    if (p == NULL)
        return isf_error_set(e, ISF_ENOMEM, "proc: out of memory");
    if (make_pipes(in, outp) < 0) {
        r = errno;
        free(p);
        return isf_error_set(e, ISF_EIO, "proc: pipe: %s", strerror(r));
    }
    r = spawn_shell(command, in, outp, &p->pid);
    close(in[0]);   /* the child's ends: only the child keeps them */
    close(outp[1]);
    if (r != 0) {
        close(in[1]);
        close(outp[0]);
        free(p);
        return isf_error_set(e, ISF_EIO, "proc: cannot run /bin/sh: %s",
                             strerror(r));
    }
    p->base.ops = &proc_ops;
    p->base.rfd = outp[0];
    p->base.wfd = in[1];
    *out = &p->base;
    return 0;
}
