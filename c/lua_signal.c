/* lua_signal.c: core.signals_install, signals_take, stopping and wait:
 * the Lua side of signals.c, for a program that runs until told to stop
 * and reacts to HUP and USR1 between runs. */
#include <lauxlib.h>
#include <signal.h>

#include "lua_core.h"
#include "lua_error.h"
#include "lua_signal.h"
#include "signals.h"

long long isf_lua_timeout_ms(lua_State *L, int idx)
{
    lua_Number s;

    if (lua_isnoneornil(L, idx))
        return -1;
    s = luaL_checknumber(L, idx);
    /* also refuses NaN, which fails every comparison */
    luaL_argcheck(L, s >= 0, idx, "must be a number of seconds >= 0");
    if (s > 1e9)
        s = 1e9;
    return (long long)(s * 1000);
}

/* signals_install(): idempotent; raises "io" when the pipe or a handler
 * cannot be set up (nothing is held then). */
static int l_signals_install(lua_State *L)
{
    struct isf_error e;

    if (isf_signals_install(&e) < 0)
        return isf_lua_raise(L, "io", e.msg);
    return 0;
}

/* signals_take() -> { TERM = true, ... } received since the last take. */
static int l_signals_take(lua_State *L)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{ISF_SIG_TERM, "TERM"}, {ISF_SIG_INT, "INT"},
                 {ISF_SIG_HUP, "HUP"}, {ISF_SIG_USR1, "USR1"}};
    unsigned got = isf_signals_take();
    size_t i;

    lua_newtable(L);
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (got & names[i].bit) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, names[i].name);
        }
    return 1;
}

/* stopping() -> "TERM" | "INT" | nil */
static int l_stopping(lua_State *L)
{
    int signo = isf_signals_stopping();

    if (signo == 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, signo == SIGTERM ? "TERM" : "INT");
    return 1;
}

/* wait([timeout]) -> "signal" | "timeout" */
static int l_wait(lua_State *L)
{
    long long ms = isf_lua_timeout_ms(L, 1);
    struct pollfd pipe_slot[1];
    struct isf_error e;
    int signaled = 0;

    if (isf_signals_poll(pipe_slot, 0, ms, &signaled, &e) < 0)
        return isf_lua_raise(L, "io", e.msg);
    lua_pushstring(L, signaled ? "signal" : "timeout");
    return 1;
}

void isf_lua_open_signal(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"signals_install", l_signals_install},
        {"signals_take", l_signals_take},
        {"stopping", l_stopping},
        {"wait", l_wait},
        {NULL, NULL},
    };

    luaL_setfuncs(L, funcs, 0);
}
