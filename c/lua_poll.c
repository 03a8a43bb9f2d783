/* lua_poll.c: core.poll(conns, timeout): waits until one of several
 * connections has something to read, or a signal arrives, so one loop can
 * serve many IDLEing connections. */
#include <lauxlib.h>

#include "lua_conn.h"
#include "lua_core.h"
#include "lua_error.h"
#include "lua_signal.h"
#include "signals.h"

/* More than a program watching mailboxes will open; the bound keeps the
 * scratch arrays small. */
#define POLL_MAX_CONNS 4096

/* The scratch arrays of one call, carved from one userdata so that an
 * error in the middle (a bad element) leaks nothing. */
struct poll_scratch {
    struct pollfd *fds;     /* n + 1: the last slot is the signal pipe's */
    int *index;             /* fds[k] is conns[index[k]] */
    unsigned char *ready;   /* by 1-based conn index */
};

static void new_scratch(lua_State *L, struct poll_scratch *s, size_t n)
{
    char *block = lua_newuserdatauv(L, (n + 1) * sizeof *s->fds +
                                       n * sizeof *s->index + n + 1, 0);

    s->fds = (struct pollfd *)(void *)block;
    s->index = (int *)(void *)(block + (n + 1) * sizeof *s->fds);
    s->ready = (unsigned char *)(s->index + n);
}

/* Sorts conns[1..n] into ready now (input held or buffered, closed,
 * broken) and fds to poll; returns how many fds. */
static size_t collect(lua_State *L, struct poll_scratch *s, int n,
                      int *now)
{
    size_t nfds = 0;
    int i;

    *now = 0;
    for (i = 1; i <= n; i++) {
        struct isf_conn *c;

        lua_geti(L, 1, i);
        c = isf_lua_toconn(L, -1);
        lua_pop(L, 1);
        s->ready[i] = 0;
        if (c == NULL || isf_conn_has_input(c)) {
            s->ready[i] = 1;
            *now = 1;
            continue;
        }
        s->fds[nfds].fd = isf_conn_fd(c);
        s->fds[nfds].events = POLLIN;
        s->fds[nfds].revents = 0;
        s->index[nfds++] = i;
    }
    return nfds;
}

static int push_results(lua_State *L, struct poll_scratch *s, int n,
                        size_t nfds, int signaled)
{
    lua_Integer k = 0;
    size_t j;
    int i;

    for (j = 0; j < nfds; j++)
        if (s->fds[j].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            s->ready[s->index[j]] = 1;
    lua_createtable(L, n, 0);
    for (i = 1; i <= n; i++)
        if (s->ready[i]) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++k);
        }
    lua_pushboolean(L, signaled);
    return 2;
}

/* poll(conns [, timeout]) -> ready indices, signaled */
static int l_poll(lua_State *L)
{
    struct poll_scratch s;
    long long ms;
    lua_Integer n;
    struct isf_error e;
    size_t nfds;
    int now, signaled = 0;

    luaL_checktype(L, 1, LUA_TTABLE);
    ms = isf_lua_timeout_ms(L, 2);
    n = luaL_len(L, 1);
    if (n > POLL_MAX_CONNS)
        return isf_lua_raise(L, "usage", "poll: more than 4096 connections");
    if (n < 0)
        n = 0;
    new_scratch(L, &s, (size_t)n);
    nfds = collect(L, &s, (int)n, &now);
    if (isf_signals_poll(s.fds, nfds, now ? 0 : ms, &signaled, &e) < 0)
        return isf_lua_raise(L, "io", e.msg);
    return push_results(L, &s, (int)n, nfds, signaled);
}

void isf_lua_open_poll(lua_State *L)
{
    lua_pushcfunction(L, l_poll);
    lua_setfield(L, -2, "poll");
}
