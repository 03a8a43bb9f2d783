/* fuzz_response.c: libFuzzer target for what a hostile server's bytes go
 * through after the parser: the conversion of every response into Lua
 * tables (lua_response.c, lua_fetch.c) and its one-line trace (trace.c).
 * Those walk the node tree by hand, so wrong types, odd nesting and
 * missing fields must neither crash nor read out of bounds. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "lua_response.h"
#include "parser.h"
#include "trace.h"

/* Runs in protected mode: the response is the light userdata argument. */
static int convert(lua_State *L)
{
    const struct isf_response *r = lua_touserdata(L, 1);

    isf_push_response(L, r);
    return 1;
}

static void use(lua_State *L, const struct isf_response *r)
{
    struct isf_buf b;

    lua_pushcfunction(L, convert);
    lua_pushlightuserdata(L, (void *)r);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        abort(); /* only a memory error could get here */
    isf_buf_init(&b, 1 << 20);
    isf_trace_response(&b, r);
    isf_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    struct isf_limits lim = {4096, 1 << 16, 1 << 20, 40, 1 << 14};
    struct isf_parser *p;
    struct isf_error e;
    size_t off = 0;
    long n;
    int ready;

    if (L == NULL && (L = luaL_newstate()) == NULL)
        abort();
    if ((p = isf_parser_new(&lim)) == NULL)
        abort();
    while (off < size) {
        ready = 0;
        n = isf_parser_feed(p, (const char *)data + off, size - off, &ready,
                            &e);
        if (n < 0)
            break;
        off += (size_t)n;
        if (!ready)
            break;
        use(L, isf_parser_response(p));
        isf_parser_release(p);
    }
    isf_parser_free(p);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
