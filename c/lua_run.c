/* lua_run.c: core.run_command, which runs a user's secret command
 * (password_command, token_command) through /bin/sh with a deadline and
 * a cap on what it prints, killing it when either is broken. */
#define _GNU_SOURCE 1 /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lua_core.h"
#include "lua_error.h"
#include "transport_util.h"

extern char **environ;

#define MAX_CAP (16 * 1024 * 1024) /* largest max_bytes accepted */

/* A running command: its process (group) and our end of its stdout. */
struct run {
    pid_t pid;
    int fd;
    int status; /* waitpid status once reaped */
};

/* Spawns /bin/sh -c command in a process group of its own (so that a
 * deadline kills whatever it started, too) with stdout on fd; stdin,
 * stderr and the environment are the caller's, so a command may still
 * prompt. Returns 0 or an errno value. */
static int spawn_shell(const char *command, int fd, pid_t *pid)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t pipe_set;
    int e = posix_spawnattr_init(&attr);

    if (e != 0)
        return e;
    /* The host ignores SIGPIPE; the command gets the default action back,
     * like any program started from a shell. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                            POSIX_SPAWN_SETSIGDEF);
    if (e == 0)
        e = posix_spawnattr_setsigdefault(&attr, &pipe_set);
    if (e == 0)
        e = posix_spawnattr_setpgroup(&attr, 0);
    if (e == 0)
        e = posix_spawn_file_actions_init(&fa);
    if (e == 0) {
        e = posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
        if (e == 0)
            e = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    posix_spawnattr_destroy(&attr);
    return e;
}

/* Starts the command with its stdout on a pipe whose non-blocking read
 * end becomes r->fd. Returns 0, or an errno value with nothing running
 * and nothing open. */
static int run_start(const char *command, struct run *r)
{
    int p[2], e;

    if (pipe2(p, O_CLOEXEC) < 0)
        return errno;
    e = spawn_shell(command, p[1], &r->pid);
    close(p[1]);
    if (e == 0 && isf_fd_nonblock_cloexec(p[0]) < 0) {
        e = errno;
        kill(-r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (e != 0) {
        close(p[0]);
        return e;
    }
    r->fd = p[0];
    return 0;
}

/* Kills the command's process group and reaps the shell. */
static void run_kill(struct run *r)
{
    kill(-r->pid, SIGKILL);
    while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
        ;
}

/* Reaps the shell once it exits by itself; 0 when the deadline passes
 * first (the output is closed, but the process lingers). */
static int run_reap(struct run *r, long long deadline)
{
    struct timespec nap = {0, 1000000}; /* 1 ms, doubling to 64 ms */
    pid_t w;

    for (;;) {
        w = waitpid(r->pid, &r->status, WNOHANG);
        if (w == r->pid || (w < 0 && errno != EINTR))
            return 1;
        if (isf_remaining_ms(deadline) == 0)
            return 0;
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 64000000)
            nap.tv_nsec *= 2;
    }
}

/* Reads the command's output into out (cap bytes) until it closes
 * stdout. Returns the length, or a negative ISF_E* code with e set. */
static long run_read(struct run *r, char *out, size_t cap, long long deadline,
                     struct isf_error *e)
{
    size_t len = 0;
    char extra;
    long n;

    for (;;) {
        if (len == cap)
            n = isf_fd_read(r->fd, &extra, 1, deadline, "command read", e);
        else
            n = isf_fd_read(r->fd, out + len, cap - len, deadline,
                            "command read", e);
        if (n == ISF_ECLOSED)
            return (long)len;
        if (n < 0)
            return n;
        if (len == cap)
            return isf_error_set(e, ISF_ELIMIT,
                                 "command printed more than %zu bytes", cap);
        len += (size_t)n;
    }
}

/* Runs the command to its end; on any failure it is killed. */
static long run_all(const char *command, char *out, size_t cap, int timeout_ms,
                    struct run *r, struct isf_error *e)
{
    long long deadline = isf_deadline(timeout_ms);
    long len;
    int err = run_start(command, r);

    if (err != 0)
        return isf_error_set(e, ISF_EIO, "cannot run /bin/sh: %s",
                             strerror(err));
    len = run_read(r, out, cap, deadline, e);
    close(r->fd);
    if (len >= 0 && !run_reap(r, deadline))
        len = isf_error_set(e, ISF_ETIMEOUT, "command did not exit");
    if (len < 0)
        run_kill(r);
    return len;
}

/* run_command(command, timeout, max_bytes) -> output, "exit"|"signal",
 * code | nil, { kind = "timeout"|"limit"|"io", text }. The output is
 * kept in a Lua-owned block (nothing to free on a raise) and wiped once
 * copied, as it holds a password or token. Messages never repeat the
 * command, which may hold secrets too. */
static int l_run_command(lua_State *L)
{
    size_t clen, cap;
    const char *command = luaL_checklstring(L, 1, &clen);
    lua_Number secs = luaL_checknumber(L, 2);
    lua_Integer max = luaL_checkinteger(L, 3);
    struct run r = {-1, -1, 0};
    struct isf_error e;
    char *out;
    long len;

    luaL_argcheck(L, strlen(command) == clen, 1, "contains a NUL byte");
    luaL_argcheck(L, secs > 0, 2, "must be > 0");
    luaL_argcheck(L, max >= 1 && max <= MAX_CAP, 3, "out of range");
    cap = (size_t)max;
    out = lua_newuserdatauv(L, cap, 0);
    len = run_all(command, out, cap,
                  secs > 2e6 ? 2000000000 : (int)(secs * 1000), &r, &e);
    if (len < 0) {
        OPENSSL_cleanse(out, cap);
        return isf_lua_fail(L, &e);
    }
    lua_pushlstring(L, out, (size_t)len);
    OPENSSL_cleanse(out, cap);
    lua_pushstring(L, WIFSIGNALED(r.status) ? "signal" : "exit");
    lua_pushinteger(L, WIFSIGNALED(r.status) ? WTERMSIG(r.status)
                                             : WEXITSTATUS(r.status));
    return 3;
}

void isf_lua_open_run(lua_State *L)
{
    lua_pushcfunction(L, l_run_command);
    lua_setfield(L, -2, "run_command");
}
