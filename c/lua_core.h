/* lua_core.h: the Lua module imapsift.core: its opener, shared by the
 * host (which preloads it) and by the loadable core.so, and the openers
 * of the glue parts it gathers. */
#ifndef ISF_LUA_CORE_H
#define ISF_LUA_CORE_H

#include <lua.h>


/* Pushes the module table. */
int isf_lua_open(lua_State *L);

/* Adds the SASL crypto primitives (lua_crypto.c). */
void isf_lua_open_crypto(lua_State *L);

/* Adds run_command, secret commands with a deadline (lua_run.c). */
void isf_lua_open_run(lua_State *L);

/* Adds regex, the PCRE2 Regex metatable and pcre2_version (lua_regex.c). */
void isf_lua_open_regex(lua_State *L);

/* Adds iconv, charset conversion to UTF-8 (lua_iconv.c). */
void isf_lua_open_iconv(lua_State *L);

/* Adds connect, spawn and the Connection metatable (lua_conn.c). */
void isf_lua_open_conn(lua_State *L);

/* Adds poll, waiting on several connections at once (lua_poll.c). */
void isf_lua_open_poll(lua_State *L);

/* Adds signals_install, signals_take, stopping, wait (lua_signal.c). */
void isf_lua_open_signal(lua_State *L);

/* Adds isatty, getpass, write_file_atomic, mkdir_p, versions, time and
 * getpid (lua_sys.c). */
void isf_lua_open_sys(lua_State *L);

#endif
