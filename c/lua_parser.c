/* lua_parser.c: the Parser userdata, core.parse/parser and their limits. */
#include <lauxlib.h>
#include <limits.h>
#include <stdint.h>

#include "lua_error.h"
#include "lua_response.h"

#define PARSER_MT "imapsift.Parser"

/* ---- limits ---------------------------------------------------------- */

static const char *const limit_names[] = {
    "max_line", "max_literal", "max_response", "max_depth", "max_nodes"};

static void limit_set(struct isf_limits *l, int m, lua_Integer v)
{
    size_t z = (uint64_t)v > SIZE_MAX ? SIZE_MAX : (size_t)v;

    switch (m) {
    case 0:
        l->max_line = z;
        break;
    case 1:
        l->max_literal = z;
        break;
    case 2:
        l->max_response = z;
        break;
    case 3:
        l->max_depth = z > UINT_MAX ? UINT_MAX : (unsigned)z;
        break;
    default:
        l->max_nodes = z;
    }
}

void isf_lua_check_limits(lua_State *L, int idx, struct isf_limits *l)
{
    int m, ok;
    lua_Integer v;

    isf_limits_default(l);
    if (lua_isnoneornil(L, idx))
        return;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    for (m = 0; m < 5; m++) {
        int t = lua_getfield(L, idx, limit_names[m]);

        v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (t == LUA_TNIL)
            continue;
        if (t != LUA_TNUMBER || !ok || v < 1)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "'%s' must be an integer >= 1",
                                          limit_names[m]));
        limit_set(l, m, v);
    }
}

/* ---- the Parser userdata --------------------------------------------- */

enum { P_OPEN, P_FAILED, P_CLOSED };

/* A failed parser is freed at once but remembers its error, so feeding
 * it again raises the same error rather than "closed". */
struct lparser {
    struct isf_parser *p; /* NULL unless P_OPEN */
    int state;
    struct isf_error err;
};

static void lparser_close(struct lparser *u, int state)
{
    if (u->p != NULL)
        isf_parser_free(u->p);
    u->p = NULL;
    u->state = state;
}

/* The metatable is set before the parser exists, so __gc frees it even
 * if a later step raises. */
static struct lparser *new_lparser(lua_State *L, const struct isf_limits *l)
{
    struct lparser *u = lua_newuserdatauv(L, sizeof *u, 0);

    u->p = NULL;
    u->state = P_CLOSED;
    isf_error_clear(&u->err);
    luaL_setmetatable(L, PARSER_MT);
    u->p = isf_parser_new(l);
    if (u->p == NULL) {
        isf_error_set(&u->err, ISF_ENOMEM, "cannot allocate a parser");
        isf_lua_push_error(L, &u->err);
        lua_error(L);
    }
    u->state = P_OPEN;
    return u;
}

static struct lparser *check_lparser(lua_State *L)
{
    struct lparser *u = luaL_checkudata(L, 1, PARSER_MT);

    if (u->state == P_CLOSED)
        luaL_error(L, "parser is closed");
    return u;
}

/* Appends to the array at index out every response data completes.
 * Returns 0 or a negative code, with the parser then freed and u->err
 * set. A response left unreleased by a memory error raised while it was
 * being converted is dropped here, so the parser is always fed clean. */
static int feed_all(lua_State *L, struct lparser *u, const char *data,
                    size_t len, int out)
{
    lua_Integer k = (lua_Integer)lua_rawlen(L, out);
    size_t off = 0;
    int ready;
    long n;

    if (isf_parser_response(u->p) != NULL)
        isf_parser_release(u->p);
    while (off < len) {
        ready = 0;
        n = isf_parser_feed(u->p, data + off, len - off, &ready, &u->err);
        if (n == 0 && !ready)
            n = isf_error_set(&u->err, ISF_EPROTO, "parser made no progress");
        if (n < 0) {
            u->err.code = (int)n;
            lparser_close(u, P_FAILED);
            return (int)n;
        }
        off += (size_t)n;
        if (ready) {
            isf_push_response(L, isf_parser_response(u->p));
            lua_rawseti(L, out, ++k);
            isf_parser_release(u->p);
        }
    }
    return 0;
}

/* Pushes the parser's error with the responses completed before it. */
static void push_feed_error(lua_State *L, struct lparser *u, int out)
{
    isf_lua_push_error(L, &u->err);
    lua_pushvalue(L, out);
    lua_setfield(L, -2, "responses");
}

/* parser:feed(chunk) -> array of the responses completed by chunk. */
static int l_feed(lua_State *L)
{
    struct lparser *u = check_lparser(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);

    lua_settop(L, 2);
    lua_createtable(L, 1, 0); /* 3: the results */
    if (u->state == P_FAILED || feed_all(L, u, data, len, 3) < 0) {
        push_feed_error(L, u, 3);
        return lua_error(L);
    }
    return 1;
}

static int l_busy(lua_State *L)
{
    struct lparser *u = check_lparser(L);

    lua_pushboolean(L, u->p != NULL && isf_parser_busy(u->p));
    return 1;
}

/* One idempotent close for close(), __gc and __close. */
static int l_close(lua_State *L)
{
    lparser_close(luaL_checkudata(L, 1, PARSER_MT), P_CLOSED);
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct lparser *u = luaL_checkudata(L, 1, PARSER_MT);

    if (u->state == P_CLOSED)
        lua_pushliteral(L, "imapsift.Parser (closed)");
    else if (u->state == P_FAILED)
        lua_pushliteral(L, "imapsift.Parser (failed)");
    else
        lua_pushfstring(L, "imapsift.Parser (%p)", (void *)u);
    return 1;
}

/* core.parser([limits]) -> Parser */
static int l_parser(lua_State *L)
{
    struct isf_limits lim;

    isf_lua_check_limits(L, 1, &lim);
    new_lparser(L, &lim);
    return 1;
}

/* core.parse(bytes [, limits]) -> array of responses | nil, err. Bytes
 * that end inside a response are an error: the input is meant whole. */
static int l_parse(lua_State *L)
{
    struct isf_limits lim;
    struct lparser *u;
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    int rc;

    isf_lua_check_limits(L, 2, &lim);
    lua_settop(L, 2);
    u = new_lparser(L, &lim); /* 3 */
    lua_createtable(L, 1, 0); /* 4 */
    rc = feed_all(L, u, data, len, 4);
    if (rc == 0 && isf_parser_busy(u->p))
        rc = isf_error_set(&u->err, ISF_EPROTO, "input ends inside a response");
    lparser_close(u, rc < 0 ? P_FAILED : P_CLOSED);
    if (rc < 0)
        return isf_lua_fail(L, &u->err);
    return 1;
}

static void open_parser_mt(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", l_close},
                                    {"__close", l_close},
                                    {"__tostring", l_tostring},
                                    {NULL, NULL}};
    static const luaL_Reg methods[] = {
        {"feed", l_feed}, {"busy", l_busy}, {"close", l_close}, {NULL, NULL}};

    if (luaL_newmetatable(L, PARSER_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

void isf_lua_open_parser(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"parse", l_parse}, {"parser", l_parser}, {NULL, NULL}};

    open_parser_mt(L);
    luaL_setfuncs(L, funcs, 0);
}
