/* lua_conn.c: the Connection userdata ("imapsift.Connection"): opening
 * transports, TLS, encoding commands and handing them to the connection
 * (conn.c owns the commands in flight: the send loop, matching replies
 * to tags, the queue), reading responses as Lua tables, and the protocol
 * trace. A trace function that uses the connection it traces gets a
 * "usage" error instead of reaching freed or half-updated state. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "lua_command.h"
#include "lua_conn.h"
#include "lua_core.h"
#include "lua_error.h"
#include "lua_response.h"
#include "trace.h"

#define CONN_MT "imapsift.Connection"
#define UV_TRACE 1 /* user value 1: trace function or nil */

struct lconn {
    struct isf_conn *c;    /* NULL once closed */
    int timeout_ms;        /* default for reads and writes */
    int busy;              /* inside a read or send (trace calls run) */
    char kind[8];          /* "tcp", "tls", "proc" for __tostring */
};

/* The connection at index 1, open and not in the middle of a call that
 * runs the trace function. */
static struct lconn *check_lconn(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_MT);

    if (lc->busy)
        isf_lua_raise(L, "usage", "the connection cannot be used from its own "
                   "trace function");
    if (lc->c == NULL)
        isf_lua_raise(L, "closed", "connection is closed");
    return lc;
}

static int timeout_arg(lua_State *L, int idx, int dflt)
{
    lua_Number s;

    if (lua_isnoneornil(L, idx))
        return dflt;
    s = luaL_checknumber(L, idx);
    if (s < 0)
        return -1;
    return s > 2e6 ? 2000000000 : (int)(s * 1000);
}

/* Creates the userdata with its metatable and user values before any
 * resource is acquired, so a memory error cannot leak a connection. */
static struct lconn *new_lconn(lua_State *L)
{
    struct lconn *lc = lua_newuserdatauv(L, sizeof *lc, 1);

    memset(lc, 0, sizeof *lc);
    lc->timeout_ms = 60000;
    luaL_setmetatable(L, CONN_MT);
    return lc;
}

static struct lconn *lc_of(lua_State *L, int ud)
{
    return lua_touserdata(L, ud);
}

/* --- trace ----------------------------------------------------------- */

static int tracing(lua_State *L, int ud)
{
    int t = lua_getiuservalue(L, ud, UV_TRACE);

    lua_pop(L, 1);
    return t == LUA_TFUNCTION;
}

/* Calls the trace function with (direction, line); errors in it are
 * ignored: a trace must never break a session. The connection is busy
 * meanwhile, so the function cannot use it. */
static void trace_line(lua_State *L, int ud, const char *dir,
                       const char *s, size_t n)
{
    struct lconn *lc = lc_of(L, ud);

    lua_getiuservalue(L, ud, UV_TRACE);
    lua_pushstring(L, dir);
    lua_pushlstring(L, s, n);
    lc->busy++;
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1);
    lc->busy--;
}

/* Runs under lua_pcall (trace_hook): traces the response (light
 * userdata at 2) of the connection at 1. */
static int trace_response(lua_State *L)
{
    const struct isf_response *r = lua_touserdata(L, 2);
    struct lconn *lc = lc_of(L, 1);
    struct isf_buf b;
    int rc;

    if (!tracing(L, 1))
        return 0;
    /* SASL challenges (a SCRAM server-first and server-final together
     * allow an offline dictionary attack) stay out of traces. */
    if (r->kind == ISF_RESP_CONTINUE &&
        isf_session_inflight(&lc->c->s, "AUTHENTICATE")) {
        trace_line(L, 1, "S", "+ ***", 5);
        return 0;
    }
    isf_buf_init(&b, 64 * 1024);
    rc = isf_trace_response(&b, r);
    if (rc == 0)
        lua_pushlstring(L, b.data ? b.data : "", b.len);
    isf_buf_free(&b);
    if (rc == ISF_ELIMIT)
        lua_pushliteral(L, "(response too long to trace)");
    else if (rc < 0)
        return 0;
    trace_line(L, 1, "S", lua_tostring(L, -1), lua_rawlen(L, -1));
    return 0;
}

/* The connection's on_wire hook while a read or send runs: everything
 * that could raise happens inside lua_pcall, so no Lua error unwinds the
 * connection's own loops. */
struct hook_ctx {
    lua_State *L;
    int ud;
};

static void trace_hook(void *ctx, const struct isf_response *r)
{
    struct hook_ctx *h = ctx;
    lua_State *L = h->L;

    if (!lua_checkstack(L, 4))
        return;
    lua_pushcfunction(L, trace_response);
    lua_pushvalue(L, h->ud);
    lua_pushlightuserdata(L, (void *)r);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

/* A call's time budget in seconds at idx (none or nil: no deadline) as
 * the connection's deadline. */
static void set_deadline(lua_State *L, struct lconn *lc, int idx)
{
    lua_Number s;

    lc->c->deadline_ms = 0;
    if (lua_isnoneornil(L, idx))
        return;
    s = luaL_checknumber(L, idx);
    if (s > 2e6)
        s = 2e6;
    /* s <= 0: a deadline already passed, so the call times out. */
    lc->c->deadline_ms = isf_conn_now_ms() + (s > 0 ? (long long)(s * 1000)
                                                    : 0);
}

/* Marks the connection busy and routes its trace while a call runs. */
static void enter(struct lconn *lc, struct hook_ctx *h, lua_State *L)
{
    h->L = L;
    h->ud = 1;
    lc->busy++;
    lc->c->on_wire = trace_hook;
    lc->c->wire_ctx = h;
}

static void leave(struct lconn *lc)
{
    lc->busy--;
    if (lc->c) {
        lc->c->on_wire = NULL;
        lc->c->wire_ctx = NULL;
        lc->c->deadline_ms = 0;
    }
}

/* Pushes r with what the session knows of it: command = name of the
 * command a tagged response completes; stale = true when it belongs to a
 * command its caller abandoned. */
static void push_owned(lua_State *L, const struct isf_conn *c,
                       const struct isf_response *r)
{
    isf_push_response(L, r);
    if (r->kind == ISF_RESP_TAGGED && c->owner.known) {
        lua_pushstring(L, c->owner.name);
        lua_setfield(L, -2, "command");
    }
    if (c->owner.stale) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "stale");
    }
}

/* conn:read([timeout [, tag [, budget]]]) -> response, bytes | nil, err
 * With tag, only responses for that command's reader (see conn.h).
 * timeout bounds each wait for bytes, budget (seconds) the whole call. */
static int l_read(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    int timeout = timeout_arg(L, 2, lc->timeout_ms);
    const char *tag = luaL_optstring(L, 3, NULL);
    const struct isf_response *r;
    struct hook_ctx h;
    struct isf_error e;
    int rc;

    set_deadline(L, lc, 4);
    enter(lc, &h, L);
    rc = isf_conn_read(lc->c, tag, timeout, &r, &e);
    leave(lc);
    if (rc < 0)
        return isf_lua_fail(L, &e);
    push_owned(L, lc->c, r);
    lua_pushinteger(L, (lua_Integer)r->wire_len);
    return 2;
}

/* conn:abandon(tag): the caller gives up on tag's command; what the
 * server still sends for it comes back marked stale. */
static int l_abandon(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    struct isf_error e;

    if (isf_session_abandon(&lc->c->s, luaL_checkstring(L, 2), &e) < 0)
        return isf_lua_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* conn:abandoned() -> commands abandoned and not completed yet. */
static int l_abandoned(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushinteger(L, (lua_Integer)lc->c->s.nabandoned);
    return 1;
}

/* conn:held() -> responses held for other commands' readers. */
static int l_held(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushinteger(L, (lua_Integer)lc->c->q.count);
    return 1;
}

/* --- sending ----------------------------------------------------------- */

static unsigned cmd_flags(lua_State *L, int idx, size_t *max_bytes)
{
    static const struct { const char *key; unsigned flag; } names[] = {
        {"literal_plus", ISF_CMD_LITERAL_PLUS},
        {"literal_minus", ISF_CMD_LITERAL_MINUS},
        {"utf8", ISF_CMD_UTF8},
        {"binary", ISF_CMD_BINARY},
    };
    unsigned flags = 0;
    size_t i;

    *max_bytes = 256u * 1024 * 1024;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (lua_getfield(L, idx, names[i].key) != LUA_TNIL &&
            lua_toboolean(L, -1))
            flags |= names[i].flag;
        lua_pop(L, 1);
    }
    if (lua_getfield(L, idx, "max_bytes") != LUA_TNIL)
        *max_bytes = (size_t)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return flags;
}

static int cmd_gc(lua_State *L)
{
    isf_cmd_free(luaL_checkudata(L, 1, "imapsift.Command"));
    return 0;
}

/* A command under construction lives in a userdata, so that a Lua memory
 * error while responses are pushed cannot leak its buffers. */
static struct isf_cmd *new_scratch_cmd(lua_State *L)
{
    struct isf_cmd *cmd = lua_newuserdatauv(L, sizeof *cmd, 0);

    memset(cmd, 0, sizeof *cmd);
    if (luaL_newmetatable(L, "imapsift.Command")) {
        lua_pushcfunction(L, cmd_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return cmd;
}

/* conn:send(name, args [, flags [, budget]]) -> tag, refused | nil, err
 * budget (seconds) bounds the whole call, continuations included.
 * Refuses a command the session state does not allow (kind "usage").
 * refused is true when the server turned the command down before its
 * literal could go (the NO/BAD comes with the next read for tag). */
static int l_send(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    const char *name = luaL_checkstring(L, 2);
    char tag[ISF_TAG_MAX];
    struct isf_cmd *cmd;
    struct isf_error e;
    struct hook_ctx h;
    size_t max_bytes;
    unsigned flags;
    int rc;

    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    flags = cmd_flags(L, 4, &max_bytes);
    if (!lua_isnoneornil(L, 5))
        luaL_checknumber(L, 5);
    lua_settop(L, 5);
    if (isf_session_begin(&lc->c->s, name, tag, &e) < 0)
        return isf_lua_fail(L, &e);
    cmd = new_scratch_cmd(L); /* at index 6: freed by __gc if we unwind */
    isf_cmd_init(cmd, tag, name, flags, max_bytes);
    rc = lua_isnoneornil(L, 3) ? 0 : isf_lua_build_args(L, 3, cmd, &e);
    if (rc == 0)
        rc = isf_cmd_finish(cmd, &e);
    if (rc < 0) {
        isf_cmd_free(cmd);
        isf_session_forget(&lc->c->s, tag);
        return isf_lua_fail(L, &e);
    }
    if (tracing(L, 1))
        trace_line(L, 1, "C", cmd->trace.data, cmd->trace.len);
    set_deadline(L, lc, 5);
    enter(lc, &h, L);
    rc = isf_conn_send(lc->c, tag, cmd->wire.data, cmd->seg_end, cmd->nseg,
                       cmd->wire.len, lc->timeout_ms, &e);
    leave(lc);
    isf_cmd_free(cmd);
    if (rc < 0)
        return isf_lua_fail(L, &e);
    lua_pushstring(L, tag);
    lua_pushboolean(L, rc == 1);
    return 2;
}

/* conn:write_line(bytes [, secret]) -> true | nil, err
 * A line outside any command: AUTHENTICATE responses, IDLE's DONE. */
static int l_write_line(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    int secret = lua_toboolean(L, 3);
    struct isf_error e;
    int rc;

    if (memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n))
        return luaL_argerror(L, 2, "line must not contain CR, LF or NUL");
    if (tracing(L, 1))
        trace_line(L, 1, "C", secret ? "***" : s, secret ? 3 : n);
    rc = isf_conn_write(lc->c, s, n, lc->timeout_ms, &e);
    if (rc == 0)
        rc = isf_conn_write(lc->c, "\r\n", 2, lc->timeout_ms, &e);
    if (rc < 0)
        return isf_lua_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* --- TLS, state, closing ---------------------------------------------- */

static const char *opt_string(lua_State *L, int idx, const char *key)
{
    const char *s = NULL;

    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "option '%s' must be a string", key);
        s = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays referenced by the options table */
    return s;
}

/* conn:starttls{ servername, ca_file, ca_path, verify = true } ->
 * true | nil, err. Used right after connect for implicit TLS too. */
static int l_starttls(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    struct isf_tls_opts o;
    struct isf_error e;

    luaL_checktype(L, 2, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    o.servername = opt_string(L, 2, "servername");
    o.ca_file = opt_string(L, 2, "ca_file");
    o.ca_path = opt_string(L, 2, "ca_path");
    lua_getfield(L, 2, "verify");
    o.verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
    o.timeout_ms = lc->timeout_ms;
    if (isf_conn_starttls(lc->c, &o, &e) < 0)
        return isf_lua_fail(L, &e);
    memcpy(lc->kind, "tls", 4);
    lua_pushboolean(L, 1);
    return 1;
}

/* conn:compress() -> true | nil, err: COMPRESS=DEFLATE from now on;
 * called right after the server's OK to COMPRESS DEFLATE. */
static int l_compress(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    struct isf_error e;

    if (isf_conn_compress(lc->c, &e) < 0)
        return isf_lua_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_state(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushstring(L, isf_state_name(lc->c->s.state));
    return 1;
}

static int l_unread(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushinteger(L, (lua_Integer)isf_conn_unread(lc->c));
    return 1;
}

/* conn:inflight() -> number of commands sent and not completed. */
static int l_inflight(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushinteger(L, (lua_Integer)lc->c->s.ninflight);
    return 1;
}

/* conn:set_trace(fn | nil): fn(direction, line) for every line sent ("C")
 * and received ("S"), secrets and literal contents left out. */
static int l_set_trace(lua_State *L)
{
    check_lconn(L);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, UV_TRACE);
    return 0;
}

/* conn:timeout() -> seconds each wait for bytes may take (-1: none). */
static int l_timeout(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lua_pushnumber(L, lc->timeout_ms < 0 ? -1 : lc->timeout_ms / 1000.0);
    return 1;
}

static int l_set_timeout(lua_State *L)
{
    struct lconn *lc = check_lconn(L);

    lc->timeout_ms = timeout_arg(L, 2, lc->timeout_ms);
    return 0;
}

/* One idempotent close for close(), __gc and __close. */
static int l_close(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_MT);

    if (lc->busy)
        return isf_lua_raise(L, "usage", "the connection cannot be closed "
                          "from its own trace function");
    isf_conn_free(lc->c);
    lc->c = NULL;
    return 0;
}

struct isf_conn *isf_lua_toconn(lua_State *L, int idx)
{
    struct lconn *lc = luaL_checkudata(L, idx, CONN_MT);

    return lc->c;
}

static int l_closed(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_MT);

    lua_pushboolean(L, lc->c == NULL || lc->c->broken);
    return 1;
}

static int l_tostring(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_MT);

    if (lc->c == NULL)
        lua_pushstring(L, "imapsift.Connection (closed)");
    else
        lua_pushfstring(L, "imapsift.Connection (%s, %s)", lc->kind,
                        isf_state_name(lc->c->s.state));
    return 1;
}

/* --- opening ----------------------------------------------------------- */

static int opt_timeout(lua_State *L, int idx)
{
    int ms;

    lua_getfield(L, idx, "timeout");
    ms = timeout_arg(L, lua_gettop(L), 60000);
    lua_pop(L, 1);
    return ms;
}

/* core.connect{ host, port, timeout = seconds, limits = {...} } ->
 * Connection | nil, err (plain TCP; TLS is added with :starttls). */
static int l_connect(lua_State *L)
{
    struct isf_limits limits;
    struct isf_transport *t;
    struct isf_error e;
    struct lconn *lc;
    const char *host, *port;

    luaL_checktype(L, 1, LUA_TTABLE);
    host = opt_string(L, 1, "host");
    lua_getfield(L, 1, "port");
    port = lua_tostring(L, -1); /* numbers are converted in place */
    luaL_argcheck(L, host && port, 1, "host and port are required");
    lua_getfield(L, 1, "limits");
    isf_lua_check_limits(L, lua_gettop(L), &limits);
    lc = new_lconn(L);
    lc->timeout_ms = opt_timeout(L, 1);
    memcpy(lc->kind, "tcp", 4);
    if (isf_tcp_connect(host, port, lc->timeout_ms, &t, &e) < 0 ||
        isf_conn_new(t, &limits, &lc->c, &e) < 0)
        return isf_lua_fail(L, &e);
    return 1;
}

/* core.spawn{ command, timeout, limits } -> Connection | nil, err */
static int l_spawn(lua_State *L)
{
    struct isf_limits limits;
    struct isf_transport *t;
    struct isf_error e;
    struct lconn *lc;
    const char *command;

    luaL_checktype(L, 1, LUA_TTABLE);
    command = opt_string(L, 1, "command");
    luaL_argcheck(L, command != NULL, 1, "command is required");
    lua_getfield(L, 1, "limits");
    isf_lua_check_limits(L, lua_gettop(L), &limits);
    lc = new_lconn(L);
    lc->timeout_ms = opt_timeout(L, 1);
    memcpy(lc->kind, "proc", 5);
    if (isf_proc_spawn(command, &t, &e) < 0 ||
        isf_conn_new(t, &limits, &lc->c, &e) < 0)
        return isf_lua_fail(L, &e);
    return 1;
}

/* core.monotonic() -> seconds on the monotonic clock (a float), for
 * Lua code that must split a time budget over several reads (IDLE). */
static int l_monotonic(lua_State *L)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
    return 1;
}

void isf_lua_open_conn(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"read", l_read},           {"send", l_send},
        {"write_line", l_write_line}, {"starttls", l_starttls},
        {"state", l_state},         {"unread", l_unread},
        {"inflight", l_inflight},   {"set_trace", l_set_trace},
        {"abandon", l_abandon},     {"abandoned", l_abandoned},
        {"held", l_held},           {"timeout", l_timeout},
        {"set_timeout", l_set_timeout}, {"close", l_close},
        {"closed", l_closed},       {"compress", l_compress},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", l_close}, {"__close", l_close},
        {"__tostring", l_tostring}, {NULL, NULL},
    };

    luaL_newmetatable(L, CONN_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_connect);
    lua_setfield(L, -2, "connect");
    lua_pushcfunction(L, l_spawn);
    lua_setfield(L, -2, "spawn");
    lua_pushcfunction(L, l_monotonic);
    lua_setfield(L, -2, "monotonic");
}
