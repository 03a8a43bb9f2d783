/* signals.h: the process's handling of TERM, INT, HUP and USR1: flags set
 * by async-signal-safe handlers, a self-pipe that wakes poll(2), and the
 * stop state (a second TERM or INT while stopping exits at once). Plain
 * C: the Lua glue (lua_signal.c, lua_poll.c) reads this state. */
#ifndef ISF_SIGNALS_H
#define ISF_SIGNALS_H

#include <poll.h>
#include <stddef.h>

#include "err.h"

/* One bit per handled signal, for isf_signals_take. */
enum {
    ISF_SIG_TERM = 1,
    ISF_SIG_INT = 2,
    ISF_SIG_HUP = 4,
    ISF_SIG_USR1 = 8
};

/* Installs the handlers and creates the self-pipe; a second call does
 * nothing. SIGPIPE is left alone (the transports guard their writes).
 * Returns 0 or ISF_EIO. */
int isf_signals_install(struct isf_error *e);

/* 1 once isf_signals_install succeeded. */
int isf_signals_installed(void);

/* Nonzero when a signal arrived that isf_signals_take has not taken. */
int isf_signals_pending(void);

/* The signals received since the last take (ISF_SIG_* bits), cleared;
 * also empties the self-pipe. The stop state stays. */
unsigned isf_signals_take(void);

/* SIGTERM or SIGINT once either arrived (the first one), else 0. */
int isf_signals_stopping(void);

/* poll(2) over fds[0..n) and the self-pipe for up to timeout_ms (< 0:
 * forever), restarted after EINTR with the time left; returns at once
 * (after a zero-timeout poll of fds) while a signal is pending. fds must
 * have room for n + 1 entries: the last is used for the pipe. Returns
 * the number of fds[0..n) with revents, or ISF_EIO; *signaled is set to
 * isf_signals_pending() on return. */
int isf_signals_poll(struct pollfd *fds, size_t n, long long timeout_ms,
                     int *signaled, struct isf_error *e);

#endif
