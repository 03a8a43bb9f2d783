/* fuzz_lua.c: the libFuzzer driver of the targets whose code under test
 * is Lua (fuzz_mime, fuzz_set, fuzz_scram). One lua_State serves the
 * whole run: the imapsift modules come from the source tree, and the
 * target's check script (c/fuzz/<target>.lua, FUZZ_SCRIPT) returns a
 * function that gets each input as a string and raises when an invariant
 * breaks. A raise aborts, with its traceback, so libFuzzer reports it.
 * liblua is not instrumented, so a line hook gives libFuzzer the coverage
 * of the Lua code: each step from one line to the next bumps a counter in
 * libFuzzer's extra counters, as edge coverage does for C. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lua_core.h"

#if !defined(FUZZ_SOURCE_DIR) || !defined(FUZZ_SCRIPT)
#error "FUZZ_SOURCE_DIR and FUZZ_SCRIPT must be defined"
#endif

/* Counters of Lua line-to-line steps, hashed; libFuzzer clears them
 * before each input and treats each one as coverage. */
#define LUA_EDGES (1 << 16)
static uint8_t lua_edges[LUA_EDGES]
    __attribute__((section("__libfuzzer_extra_counters"), used));
static uintptr_t last_line;

/* A line event: the chunk's source string (fixed for the life of the
 * function's prototype) and the line name the spot. */
static void on_line(lua_State *L, lua_Debug *ar)
{
    uintptr_t here;
    size_t i;

    if (!lua_getinfo(L, "S", ar))
        return;
    here =
        (uintptr_t)ar->source * 31u + (uintptr_t)ar->currentline * 2654435761u;
    i = (size_t)((here ^ last_line) % LUA_EDGES);
    if (lua_edges[i] < 255)
        lua_edges[i]++;
    last_line = here >> 1;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    luaL_traceback(L, L, msg ? msg : luaL_typename(L, 1), 1);
    return 1;
}

static void die(lua_State *L, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    abort();
}

/* package.path points at the source tree only, and imapsift.core is the
 * glue linked into this binary, not some core.so found on cpath. */
static void set_paths(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_pushliteral(L, FUZZ_SOURCE_DIR "/lua/?.lua;" FUZZ_SOURCE_DIR
                                       "/lua/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, isf_lua_open);
    lua_setfield(L, -2, "imapsift.core");
    lua_pop(L, 2);
}

/* Loads the check script; returns the registry reference of its
 * function. Any failure here aborts: the target cannot run. */
static int load_check(lua_State *L)
{
    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, FUZZ_SOURCE_DIR "/c/fuzz/" FUZZ_SCRIPT) != LUA_OK)
        die(L, "loading " FUZZ_SCRIPT);
    if (lua_pcall(L, 0, 1, -2) != LUA_OK)
        die(L, "running " FUZZ_SCRIPT);
    if (!lua_isfunction(L, -1)) {
        fprintf(stderr, "%s must return a function\n", FUZZ_SCRIPT);
        abort();
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    static int check;

    if (L == NULL) {
        if ((L = luaL_newstate()) == NULL)
            abort();
        luaL_openlibs(L);
        set_paths(L);
        check = load_check(L);
        lua_settop(L, 0);
        lua_sethook(L, on_line, LUA_MASKLINE, 0);
    }
    last_line = 0;
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, check);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 1) != LUA_OK)
        die(L, FUZZ_SCRIPT);
    /* Everything the input made is freed before the run ends: libFuzzer
     * takes more mallocs than frees in a run for a possible leak, and
     * checking each one with LeakSanitizer would slow it to a crawl. */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
