/* lua_regex.c: core.regex, PCRE2 (8-bit, UTF + UCP) patterns for the
 * rules layer as "imapsift.Regex" userdata, compiled once per
 * (pattern, flags) through a small cache, matched under a match, depth
 * and heap limit so that a catastrophic pattern fails instead of
 * pinning the CPU; and core.pcre2_version. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <lauxlib.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "lua_core.h"

#define REGEX_MT "imapsift.Regex"
#define CACHE_KEY "imapsift.regex_cache"
#define CACHE_MAX 64          /* compiled patterns kept per Lua state */
#define MATCH_LIMIT 1000000   /* backtracking steps per match */
#define DEPTH_LIMIT 10000     /* nested backtracking frames */
#define HEAP_LIMIT (64 * 1024) /* KiB of backtracking memory */

struct regex {
    pcre2_code *code;          /* NULL once closed or if never compiled */
    pcre2_match_context *mctx; /* carries the limits */
};

/* Raises { kind, text [, offset] }, with the error metatable of
 * imapsift.error when that module is loaded, so that tostring() reads
 * well. Nothing C-owned is held by the caller at this point. */
static int regex_raise(lua_State *L, const char *kind, const char *text,
                       lua_Integer offset)
{
    int t;

    lua_createtable(L, 0, 4);
    t = lua_gettop(L);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, text);
    lua_setfield(L, -2, "text");
    lua_pushliteral(L, "regex");
    lua_setfield(L, -2, "command");
    if (offset >= 0) {
        lua_pushinteger(L, offset);
        lua_setfield(L, -2, "offset");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "imapsift.error") == LUA_TTABLE &&
        lua_getfield(L, -1, "Error") == LUA_TTABLE)
        lua_setmetatable(L, t);
    lua_settop(L, t);
    return lua_error(L);
}

/* "i", "m", "s", "x" -> compile options; -1 on any other letter. */
static int parse_flags(const char *flags, uint32_t *opts)
{
    *opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
    for (; *flags; flags++) {
        switch (*flags) {
        case 'i': *opts |= PCRE2_CASELESS; break;
        case 'm': *opts |= PCRE2_MULTILINE; break;
        case 's': *opts |= PCRE2_DOTALL; break;
        case 'x': *opts |= PCRE2_EXTENDED; break;
        default: return -1;
        }
    }
    return 0;
}

static void regex_close(struct regex *rx)
{
    pcre2_code_free(rx->code);
    rx->code = NULL;
    pcre2_match_context_free(rx->mctx);
    rx->mctx = NULL;
}

static int l_regex_gc(lua_State *L)
{
    regex_close(luaL_checkudata(L, 1, REGEX_MT));
    return 0;
}

/* Compiles into a new userdata left on the stack; its metatable is set
 * first, so __gc frees whatever was built if a raise follows. */
static void regex_compile(lua_State *L, const char *pat, size_t n,
                          const char *flags, uint32_t opts)
{
    struct regex *rx = lua_newuserdatauv(L, sizeof *rx, 2);
    int err;
    PCRE2_SIZE off;
    char msg[256], text[320];

    rx->code = NULL;
    rx->mctx = NULL;
    luaL_setmetatable(L, REGEX_MT);
    lua_pushlstring(L, pat, n);
    lua_setiuservalue(L, -2, 1);
    lua_pushstring(L, flags);
    lua_setiuservalue(L, -2, 2);
    rx->code = pcre2_compile((PCRE2_SPTR)pat, n, opts, &err, &off, NULL);
    if (rx->code == NULL) {
        pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(text, sizeof text, "bad pattern at offset %zu: %s",
                 (size_t)off, msg);
        regex_raise(L, "usage", text, (lua_Integer)off);
    }
    rx->mctx = pcre2_match_context_create(NULL);
    if (rx->mctx == NULL)
        regex_raise(L, "nomem", "out of memory", -1);
    pcre2_set_match_limit(rx->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(rx->mctx, DEPTH_LIMIT);
    pcre2_set_heap_limit(rx->mctx, HEAP_LIMIT);
}

/* Pushes the cache table (created on first use). */
static void cache_get(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
}

/* Pushes the cache key of the pattern at index 1: flags, NUL, pattern.
 * Flag letters never contain a NUL, so keys cannot collide, and no key
 * equals "n", the field that counts entries. */
static void push_key(lua_State *L, const char *flags)
{
    lua_pushstring(L, flags);
    lua_pushlstring(L, "", 1);
    lua_pushvalue(L, 1);
    lua_concat(L, 3);
}

/* regex(pattern [, flags]) -> Regex, from the cache when it was
 * compiled before. A full cache is simply emptied: rules use a handful
 * of patterns, a loop that builds thousands gains nothing from keeping
 * old ones. */
static int l_regex(lua_State *L)
{
    size_t n;
    const char *pat = luaL_checklstring(L, 1, &n);
    const char *flags = luaL_optstring(L, 2, "");
    uint32_t opts;
    lua_Integer count;

    if (parse_flags(flags, &opts) < 0)
        return regex_raise(L, "usage",
                           "regex flags are letters of \"imsx\"", -1);
    cache_get(L);                                  /* cache */
    push_key(L, flags);                            /* cache key */
    if (lua_rawget(L, -2) == LUA_TUSERDATA)
        return 1;
    lua_pop(L, 1);                                 /* cache */
    lua_getfield(L, -1, "n");
    count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (count >= CACHE_MAX) {
        lua_newtable(L);
        lua_replace(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
        count = 0;
    }
    regex_compile(L, pat, n, flags, opts);         /* cache rx */
    push_key(L, flags);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pushinteger(L, count + 1);
    lua_setfield(L, -3, "n");
    return 1;
}

/* The subject was not valid UTF-8: no match rather than an error, since
 * header and body text from a server is often broken. */
static int is_utf_error(int rc)
{
    return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21;
}

/* Raises for a failed pcre2_match that is neither "no match" nor an
 * invalid subject. */
static int match_failed(lua_State *L, int rc)
{
    char msg[256];

    pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof msg);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_NOMEMORY)
        return regex_raise(L, "limit", msg, -1);
    return regex_raise(L, "usage", msg, -1);
}

static struct regex *check_regex(lua_State *L)
{
    struct regex *rx = luaL_checkudata(L, 1, REGEX_MT);

    if (rx->code == NULL)
        luaL_error(L, "regex is closed");
    return rx;
}

/* Runs one match from byte offset start. ov (2 * pairs entries, Lua
 * memory) receives the offsets; the match data lives only inside this
 * function, so nothing C-owned is left when the caller raises or
 * pushes. Returns pcre2_match's code. */
static int run_match(struct regex *rx, const char *s, size_t n,
                     size_t start, PCRE2_SIZE *ov, uint32_t pairs)
{
    pcre2_match_data *md = pcre2_match_data_create(pairs, NULL);
    int rc;

    if (md == NULL)
        return PCRE2_ERROR_NOMEMORY;
    rc = pcre2_match(rx->code, (PCRE2_SPTR)s, n, start, 0, md, rx->mctx);
    if (rc >= 0)
        memcpy(ov, pcre2_get_ovector_pointer(md),
               2 * pairs * sizeof *ov);
    pcre2_match_data_free(md);
    return rc;
}

/* rx:match(s) -> true | false. */
static int l_match(lua_State *L)
{
    struct regex *rx = check_regex(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    PCRE2_SIZE ov[2];
    int rc = run_match(rx, s, n, 0, ov, 1);

    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && !is_utf_error(rc))
        return match_failed(L, rc);
    lua_pushboolean(L, rc >= 0);
    return 1;
}

/* Pushes start, end (1-based, inclusive, as string.find) and every
 * capture: its text, or false for a group that took no part. */
static int push_found(lua_State *L, const char *s, const PCRE2_SIZE *ov,
                      uint32_t pairs)
{
    uint32_t i;

    lua_pushinteger(L, (lua_Integer)ov[0] + 1);
    lua_pushinteger(L, (lua_Integer)ov[1]);
    for (i = 1; i < pairs; i++) {
        if (ov[2 * i] == PCRE2_UNSET)
            lua_pushboolean(L, 0);
        else
            lua_pushlstring(L, s + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    }
    return (int)pairs + 1;
}

/* rx:find(s [, init]) -> start, end, captures... | nil. init is a
 * 1-based byte position (default 1) and must start a character. */
static int l_find(lua_State *L)
{
    struct regex *rx = check_regex(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    lua_Integer init = luaL_optinteger(L, 3, 1);
    uint32_t groups = 0;
    PCRE2_SIZE *ov;
    int rc;

    luaL_argcheck(L, init >= 1 && (size_t)(init - 1) <= n, 3,
                  "out of range");
    pcre2_pattern_info(rx->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    luaL_checkstack(L, (int)groups + 4, "too many captures");
    /* Lua memory: freed by the collector whatever happens below */
    ov = lua_newuserdatauv(L, 2 * (groups + 1) * sizeof *ov, 0);
    rc = run_match(rx, s, n, (size_t)(init - 1), ov, groups + 1);
    if (rc == PCRE2_ERROR_NOMATCH || is_utf_error(rc) ||
        rc == PCRE2_ERROR_BADUTFOFFSET) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0)
        return match_failed(L, rc);
    return push_found(L, s, ov, groups + 1);
}

static int l_tostring(lua_State *L)
{
    luaL_checkudata(L, 1, REGEX_MT);
    lua_getiuservalue(L, 1, 1);
    lua_getiuservalue(L, 1, 2);
    lua_pushfstring(L, "imapsift.Regex(/%s/%s)", lua_tostring(L, -2),
                    lua_tostring(L, -1));
    return 1;
}

/* pcre2_version() -> "10.42 2022-12-11": the library in use, for -V. */
static int l_pcre2_version(lua_State *L)
{
    char v[64];

    if (pcre2_config(PCRE2_CONFIG_VERSION, NULL) > (int)sizeof v ||
        pcre2_config(PCRE2_CONFIG_VERSION, v) < 0)
        return luaL_error(L, "PCRE2 version unavailable");
    lua_pushstring(L, v);
    return 1;
}

void isf_lua_open_regex(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"match", l_match}, {"find", l_find}, {NULL, NULL}};

    if (luaL_newmetatable(L, REGEX_MT)) {
        lua_pushcfunction(L, l_regex_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_regex);
    lua_setfield(L, -2, "regex");
    lua_pushcfunction(L, l_pcre2_version);
    lua_setfield(L, -2, "pcre2_version");
}
