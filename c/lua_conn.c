/* lua_conn.c: the Connection userdata ("imapsift.Connection"): opening
 * transports, TLS, sending encoded commands (answering continuations for
 * synchronizing literals), reading responses as Lua tables, and the
 * protocol trace. Responses read while a command waits for a continuation
 * are queued, so several commands can be in flight at once. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "lua_command.h"
#include "lua_core.h"
#include "lua_response.h"
#include "trace.h"

#define CONN_MT "imapsift.Connection"
#define UV_QUEUE 1 /* user value 1: queue of response tables */
#define UV_TRACE 2 /* user value 2: trace function or nil */

struct lconn {
    struct isf_conn *c;    /* NULL once closed */
    int timeout_ms;        /* default for reads and writes */
    lua_Integer qhead, qtail; /* queue indices: [qhead, qtail) */
    char kind[8];          /* "tcp", "tls", "proc" for __tostring */
};

static struct lconn *check_lconn(lua_State *L)
{
    struct lconn *lc = luaL_checkudata(L, 1, CONN_MT);

    if (lc->c == NULL)
        luaL_error(L, "connection is closed");
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
    struct lconn *lc = lua_newuserdatauv(L, sizeof *lc, 2);

    memset(lc, 0, sizeof *lc);
    lc->timeout_ms = 60000;
    luaL_setmetatable(L, CONN_MT);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_QUEUE);
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
 * ignored: a trace must never break a session. */
static void trace_line(lua_State *L, int ud, const char *dir,
                       const char *s, size_t n)
{
    lua_getiuservalue(L, ud, UV_TRACE);
    lua_pushstring(L, dir);
    lua_pushlstring(L, s, n);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

static void trace_response(lua_State *L, int ud,
                           const struct isf_response *r)
{
    struct isf_buf b;

    if (!tracing(L, ud))
        return;
    /* SASL challenges (a SCRAM server-first and server-final together
     * allow an offline dictionary attack) stay out of traces. */
    if (r->kind == ISF_RESP_CONTINUE &&
        isf_session_inflight(&lc_of(L, ud)->c->s, "AUTHENTICATE")) {
        trace_line(L, ud, "S", "+ ***", 5);
        return;
    }
    isf_buf_init(&b, 64 * 1024);
    if (isf_trace_response(&b, r) == ISF_ELIMIT)
        isf_buf_reset(&b), isf_buf_puts(&b, "(response too long to trace)");
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    isf_buf_free(&b);
    trace_line(L, ud, "S", lua_tostring(L, -1), lua_rawlen(L, -1));
    lua_pop(L, 1);
}

/* --- the response queue ---------------------------------------------- */

static void queue_push(lua_State *L, struct lconn *lc, int ud)
{
    lua_getiuservalue(L, ud, UV_QUEUE);
    lua_insert(L, -2);
    lua_rawseti(L, -2, ++lc->qtail);
    lua_pop(L, 1);
}

static int queue_pop(lua_State *L, struct lconn *lc, int ud)
{
    if (lc->qhead >= lc->qtail)
        return 0;
    lua_getiuservalue(L, ud, UV_QUEUE);
    lua_rawgeti(L, -1, ++lc->qhead);
    lua_pushnil(L);
    lua_rawseti(L, -3, lc->qhead);
    lua_remove(L, -2);
    if (lc->qhead == lc->qtail)
        lc->qhead = lc->qtail = 0;
    return 1;
}

/* Reads one response from the wire and pushes it as a table, with the
 * tagged extras: command = name of the command it completes, unknown_tag
 * when the tag matched nothing in flight. Returns 0 or a core code. */
static int read_one(lua_State *L, struct lconn *lc, int ud, int timeout_ms,
                    struct isf_error *e)
{
    const struct isf_response *r;
    int rc = isf_conn_next(lc->c, timeout_ms, &r, e);

    if (rc < 0)
        return rc;
    trace_response(L, ud, r);
    isf_push_response(L, r);
    if (r->kind == ISF_RESP_TAGGED) {
        if (lc->c->tag_known) {
            lua_pushstring(L, lc->c->last_name);
            lua_setfield(L, -2, "command");
        } else {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "unknown_tag");
        }
    }
    return 0;
}

/* conn:read([timeout]) -> response | nil, err */
static int l_read(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    int timeout = timeout_arg(L, 2, lc->timeout_ms);
    struct isf_error e;

    if (queue_pop(L, lc, 1))
        return 1;
    if (read_one(L, lc, 1, timeout, &e) < 0)
        return isf_lua_fail(L, &e);
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

/* Waits for the "+" that lets the next literal go. Responses read
 * meanwhile are queued. Returns 1 to go on, 0 when the server completed
 * the command instead (NO/BAD), or a negative code. */
static int await_continuation(lua_State *L, struct lconn *lc, const char *tag,
                              struct isf_error *e)
{
    const struct isf_response *r;
    int rc;

    for (;;) {
        rc = isf_conn_next(lc->c, lc->timeout_ms, &r, e);
        if (rc < 0)
            return rc;
        trace_response(L, 1, r);
        if (r->kind == ISF_RESP_CONTINUE)
            return 1;
        isf_push_response(L, r);
        if (r->kind == ISF_RESP_TAGGED && lc->c->tag_known) {
            lua_pushstring(L, lc->c->last_name);
            lua_setfield(L, -2, "command");
        }
        queue_push(L, lc, 1);
        if (r->kind == ISF_RESP_TAGGED && r->tag_len == strlen(tag) &&
            memcmp(r->bytes + r->tag_off, tag, r->tag_len) == 0)
            return 0;
    }
}

static int send_segments(lua_State *L, struct lconn *lc,
                         const struct isf_cmd *cmd, const char *tag,
                         struct isf_error *e)
{
    size_t seg, start = 0, end;
    int rc;

    for (seg = 0; seg <= cmd->nseg; seg++) {
        end = seg < cmd->nseg ? cmd->seg_end[seg] : cmd->wire.len;
        rc = isf_conn_write(lc->c, cmd->wire.data + start, end - start,
                            lc->timeout_ms, e);
        if (rc < 0)
            return rc;
        start = end;
        if (seg < cmd->nseg) {
            rc = await_continuation(L, lc, tag, e);
            if (rc < 0)
                lc->c->broken = 1; /* the server waits for the literal */
            if (rc <= 0)
                return rc;
        }
    }
    return 0;
}

/* conn:send(name, args [, flags]) -> tag | nil, err
 * Refuses a command the session state does not allow (kind "usage"). */
static int l_send(lua_State *L)
{
    struct lconn *lc = check_lconn(L);
    const char *name = luaL_checkstring(L, 2);
    char tag[ISF_TAG_MAX];
    struct isf_cmd *cmd;
    struct isf_error e;
    size_t max_bytes;
    unsigned flags;
    int rc;

    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    flags = cmd_flags(L, 4, &max_bytes);
    if (isf_session_begin(&lc->c->s, name, tag, &e) < 0)
        return isf_lua_fail(L, &e);
    cmd = new_scratch_cmd(L); /* at index 5: freed by __gc if we unwind */
    isf_cmd_init(cmd, tag, name, flags, max_bytes);
    rc = lua_isnoneornil(L, 3) ? 0 : isf_lua_build_args(L, 3, cmd, &e);
    if (rc == 0)
        rc = isf_cmd_finish(cmd, &e);
    if (rc == 0 && tracing(L, 1))
        trace_line(L, 1, "C", cmd->trace.data, cmd->trace.len);
    if (rc == 0)
        rc = send_segments(L, lc, cmd, tag, &e);
    isf_cmd_free(cmd);
    if (rc < 0) {
        isf_session_forget(&lc->c->s, tag);
        return isf_lua_fail(L, &e);
    }
    lua_pushstring(L, tag);
    return 1;
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

    isf_conn_free(lc->c);
    lc->c = NULL;
    return 0;
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
