/* main.c: the imapsift host: a Lua state with imapsift.core built in and
 * the Lua layer found in a checkout or after installation, handing the
 * command line to imapsift.cli, whose result is the exit status. Options,
 * help, version and error reports all live in Lua. */
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua_core.h"

static const char *progname = "imapsift";

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

/* A closed stdout (the plan piped to head) must be a write error the
 * Lua layer sees, not a silent death halfway through a run, before the
 * accounts are logged out. Left alone when the parent chose otherwise. */
static void ignore_sigpipe(void)
{
    struct sigaction old, ign;

    if (sigaction(SIGPIPE, NULL, &old) != 0 || old.sa_handler != SIG_DFL)
        return;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
}

/* Runs in protected mode: require("imapsift.cli").main({ argv[1..] }),
 * leaving its result (the exit status) on the stack. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    int i;

    luaL_openlibs(L);
    setup_paths(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "imapsift.cli");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc > 1 ? argc - 1 : 0, 0);
    for (i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_call(L, 1, 1);
    if (!lua_isinteger(L, -1))
        return luaL_error(L, "imapsift.cli.main returned no exit status");
    return 1;
}

/* The last resort: cli.main reports its own errors; one escaping it is
 * printed with its traceback and the status is 1. */
int main(int argc, char **argv)
{
    lua_State *L;
    int status;
    lua_Integer code = 1;

    protect_memory();
    ignore_sigpipe();
    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create Lua state: not enough memory\n",
                progname);
        return 1;
    }
    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 1);
    if (status == LUA_OK) {
        code = lua_tointeger(L, -1);
    } else {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", progname,
                msg ? msg : "(error object is not a string)");
    }
    lua_close(L);
    return code < 0 || code > 255 ? 1 : (int)code;
}
