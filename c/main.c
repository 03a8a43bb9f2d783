/* main.c: the imapsift host: runs a rule script the way lua5.4 runs one
 * (arg table, traceback on error, exit status), with imapsift.core built
 * in and the Lua layer found in a checkout or after installation. */
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua_core.h"

static const char *progname = "imapsift";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s SCRIPT.lua [ARGS...]\n"
            "       %s --version\n"
            "Runs SCRIPT.lua with the imapsift module available "
            "(require \"imapsift\").\n",
            progname, progname);
}

/* The host holds passwords and tokens: no core dump may write them to
 * disk, and no other process of the same user may attach to it or read
 * its memory (not dumpable also closes /proc/PID/mem to them). Done
 * before any script runs; a failure is reported, not fatal. */
static void protect_memory(void)
{
    struct rlimit none = {0, 0};

    if (setrlimit(RLIMIT_CORE, &none) != 0)
        fprintf(stderr, "%s: warning: cannot disable core dumps\n",
                progname);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fprintf(stderr, "%s: warning: cannot make the process "
                "undumpable\n", progname);
}

/* Turns any error value into a message with a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") &&
            lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)",
                                  luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* The directory of the running executable, into buf. */
static int exe_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    char *slash;

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    return 0;
}

/* Where lua/imapsift/init.lua lives: next to an installed binary
 * (../share/imapsift/lua), the configured install prefix, or the source
 * tree this binary was built from. */
static const char *find_luadir(char *buf, size_t size)
{
    const char *fixed[] = {IMAPSIFT_LUADIR_INSTALLED, IMAPSIFT_LUADIR_SOURCE};
    char probe[PATH_MAX + 64], dir[PATH_MAX];
    size_t i;

    if (exe_dir(dir, sizeof dir) == 0) {
        if ((size_t)snprintf(buf, size, "%s/../share/imapsift/lua", dir) >= size)
            return NULL;
        snprintf(probe, sizeof probe, "%s/imapsift/init.lua", buf);
        if (file_exists(probe))
            return buf;
    }
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        snprintf(probe, sizeof probe, "%s/imapsift/init.lua", fixed[i]);
        if (file_exists(probe))
            return fixed[i];
    }
    return NULL;
}

/* package.path gets the Lua layer first; imapsift.core is preloaded. */
static void setup_paths(lua_State *L)
{
    char buf[PATH_MAX];
    const char *dir = find_luadir(buf, sizeof buf);

    lua_getglobal(L, "package");
    if (dir != NULL) {
        lua_getfield(L, -1, "path");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir,
                        lua_tostring(L, -1));
        lua_setfield(L, -3, "path");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, isf_lua_open);
    lua_setfield(L, -2, "imapsift.core");
    lua_pop(L, 1);
}

/* arg[0] = script, arg[1..] = its arguments, arg[-1] = the host. */
static void create_arg(lua_State *L, char **argv, int argc, int script)
{
    int i;

    lua_createtable(L, argc - script - 1, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* At the end of the script, failed or not, the accounts it opened with
 * the rules layer are logged out (imapsift.account keeps them). A
 * failure there is reported and does not change the exit status. */
static void finish_accounts(lua_State *L)
{
    int top = lua_gettop(L);

    lua_getglobal(L, "package");
    if (lua_istable(L, -1) &&
        lua_getfield(L, -1, "loaded") == LUA_TTABLE &&
        lua_getfield(L, -1, "imapsift.account") == LUA_TTABLE &&
        lua_getfield(L, -1, "finish") == LUA_TFUNCTION &&
        lua_pcall(L, 0, 0, 0) != LUA_OK) {
        const char *msg = luaL_tolstring(L, -1, NULL);
        fprintf(stderr, "%s: logging out: %s\n", progname, msg);
    }
    lua_settop(L, top);
}

/* Runs in protected mode: everything that can raise happens here. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    int i, status, nargs = argc - 2;

    luaL_openlibs(L);
    setup_paths(L);
    create_arg(L, argv, argc, 1);
    lua_pushcfunction(L, msghandler);
    if (luaL_loadfile(L, argv[1]) != LUA_OK)
        return lua_error(L);
    for (i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    status = lua_pcall(L, nargs, 0, 3);
    finish_accounts(L);
    if (status != LUA_OK)
        return lua_error(L);
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int status, ok;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("imapsift %s\n", IMAPSIFT_VERSION);
        return 0;
    }
    protect_memory();
    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create Lua state: not enough memory\n",
                progname);
        return 1;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 0);
    ok = status == LUA_OK && lua_toboolean(L, -1);
    if (!ok) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", progname,
                msg ? msg : "(error object is not a string)");
    }
    lua_close(L);
    return ok ? 0 : 1;
}
