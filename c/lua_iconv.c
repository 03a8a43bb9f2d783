/* lua_iconv.c: core.iconv, text in a MIME charset (RFC 2045, RFC 2047,
 * RFC 2231 names) converted to UTF-8 by the C library's iconv, strictly:
 * invalid or truncated input is a failure, never silently dropped. */
#include <errno.h>
#include <iconv.h>
#include <lauxlib.h>
#include <string.h>

#include "lua_core.h"
#include "lua_error.h"

#define ICONV_MT "imapsift.Iconv"
#define ICONV_MAX_IN (16u << 20) /* bytes one call converts */
#define MAX_NAME 40           /* longest charset name tried */
#define CHUNK 4096

/* MIME names that glibc does not know, or whose label is, in mail as on
 * the web, used for the larger charset that contains it: a message
 * labelled gb2312 or shift_jis routinely has GBK or CP932 characters. */
static const char *const ALIASES[][2] = {
    {"utf8", "UTF-8"},
    {"gb2312", "GB18030"},
    {"gbk", "GB18030"},
    {"x-gbk", "GB18030"},
    {"shift_jis", "CP932"},
    {"x-sjis", "CP932"},
    {"sjis", "CP932"},
    {"ks_c_5601-1987", "CP949"},
    {"unicode-1-1-utf-7", "UTF-7"},
    {"ascii", "US-ASCII"},
    {NULL, NULL}};

/* The iconv handle lives in a userdata so that the collector closes it
 * if an output buffer allocation raises half way. Handles are kept per
 * charset in a registry table (at most CACHE_MAX, then it starts again):
 * opening a converter costs far more than converting a header word. */
struct handle {
    iconv_t cd;
};

#define CACHE_MAX 16
static const char cache_id = 0;

static int l_handle_gc(lua_State *L)
{
    struct handle *h = luaL_checkudata(L, 1, ICONV_MT);

    if (h->cd != (iconv_t)-1)
        iconv_close(h->cd);
    h->cd = (iconv_t)-1;
    return 0;
}

/* Lower-cases name into out; 0 if it is a plausible charset name (so no
 * "//IGNORE" suffix or path reaches iconv_open), else -1. */
static int normalize(const char *name, size_t n, char *out)
{
    size_t i;

    if (n == 0 || n >= MAX_NAME)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("-_.:+", c) != NULL) ||
            c == '\0')
            return -1;
        out[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    out[n] = '\0';
    return 0;
}

static const char *alias(const char *name)
{
    int i;

    for (i = 0; ALIASES[i][0] != NULL; i++)
        if (strcmp(ALIASES[i][0], name) == 0)
            return ALIASES[i][1];
    return name;
}

/* Opens name -> UTF-8, trying the name without an "x-" prefix too. */
static iconv_t open_charset(const char *name)
{
    iconv_t cd = iconv_open("UTF-8", alias(name));

    if (cd == (iconv_t)-1 && strncmp(name, "x-", 2) == 0 && name[2])
        cd = iconv_open("UTF-8", alias(name + 2));
    return cd;
}

/* Pushes the registry table of kept handles, made on first use (and
 * made anew once it holds CACHE_MAX; the old handles are collected). */
static void push_cache(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_id) == LUA_TTABLE) {
        if (lua_rawgeti(L, -1, 0) == LUA_TNUMBER &&
            lua_tointeger(L, -1) < CACHE_MAX) {
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, CACHE_MAX);
    lua_pushinteger(L, 0);
    lua_rawseti(L, -2, 0); /* how many handles it holds */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_id);
}

/* Pushes the handle converting name to UTF-8, kept or newly opened, in
 * its initial shift state; NULL (nothing pushed) for a charset iconv
 * does not know. */
static struct handle *handle_for(lua_State *L, const char *name)
{
    struct handle *h;
    int t;

    push_cache(L);
    t = lua_gettop(L);
    if (lua_getfield(L, t, name) == LUA_TUSERDATA) {
        h = lua_touserdata(L, -1);
        iconv(h->cd, NULL, NULL, NULL, NULL);
        lua_remove(L, t);
        return h;
    }
    lua_pop(L, 1);
    h = lua_newuserdatauv(L, sizeof *h, 0);
    h->cd = (iconv_t)-1;
    luaL_setmetatable(L, ICONV_MT);
    if ((h->cd = open_charset(name)) == (iconv_t)-1) {
        lua_pop(L, 2);
        return NULL;
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, t, name);
    lua_rawgeti(L, t, 0);
    lua_pushinteger(L, lua_tointeger(L, -1) + 1);
    lua_rawseti(L, t, 0);
    lua_pop(L, 1);
    lua_remove(L, t);
    return h;
}

/* One iconv step into a fresh chunk of b (in NULL flushes the shift
 * state, as ISO-2022-JP needs). Returns 0 or the errno; E2BIG only asks
 * for another chunk. */
static int step(iconv_t cd, char **in, size_t *left, luaL_Buffer *b)
{
    char *out = luaL_prepbuffsize(b, CHUNK), *start = out;
    size_t room = CHUNK;
    size_t r = iconv(cd, in, left, &out, &room);
    int e = r == (size_t)-1 ? errno : 0;

    luaL_addsize(b, (size_t)(out - start));
    return e;
}

/* Converts all n bytes of in into b (growing b may raise; the handle is
 * then closed by the collector). Returns 0, or EILSEQ (invalid input),
 * EINVAL (truncated input), EFBIG (output over the bound). */
static int convert(iconv_t cd, const char *in, size_t n, luaL_Buffer *b)
{
    char *src = (char *)in;
    size_t left = n, bound = 8 * n + CHUNK;
    int e;

    while (left > 0) {
        e = step(cd, &src, &left, b);
        if (e != 0 && e != E2BIG)
            return e;
        if (luaL_bufflen(b) > bound)
            return EFBIG;
    }
    while ((e = step(cd, NULL, NULL, b)) == E2BIG)
        if (luaL_bufflen(b) > bound)
            return EFBIG;
    return e;
}

static int fail(lua_State *L, const char *kind, const char *text)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, text);
    lua_setfield(L, -2, "text");
    return 2;
}

/* iconv(s, charset) -> UTF-8 text | nil, { kind, text }: kind "usage"
 * for a charset iconv does not know, "protocol" for input that is not
 * valid in it, "limit" for input over ICONV_MAX_IN bytes. */
static int l_iconv(lua_State *L)
{
    size_t n, cn;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *cs = luaL_checklstring(L, 2, &cn);
    char name[MAX_NAME];
    struct handle *h;
    luaL_Buffer b;
    int rc;

    if (n > ICONV_MAX_IN)
        return fail(L, "limit", "text too long to convert");
    if (normalize(cs, cn, name) < 0 || (h = handle_for(L, name)) == NULL)
        return fail(L, "usage", "unknown charset");
    luaL_buffinit(L, &b);
    rc = convert(h->cd, s, n, &b);
    if (rc == EFBIG)
        return fail(L, "limit", "converted text too long");
    if (rc != 0)
        return fail(L, "protocol", rc == EINVAL
                                       ? "truncated text in charset"
                                       : "invalid text in charset");
    luaL_pushresult(&b);
    return 1;
}

void isf_lua_open_iconv(lua_State *L)
{
    if (luaL_newmetatable(L, ICONV_MT)) {
        lua_pushcfunction(L, l_handle_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_iconv);
    lua_setfield(L, -2, "iconv");
}
