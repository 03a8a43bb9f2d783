/* lua_signal.h: shared by the glue files that wait (lua_signal.c,
 * lua_poll.c, lua_sys.c): the timeout argument they all take. */
#ifndef ISF_LUA_SIGNAL_H
#define ISF_LUA_SIGNAL_H

#include <lua.h>

/* The timeout in seconds at idx as milliseconds: none or nil is -1
 * (forever); a negative number or NaN is an argument error. Huge values
 * are capped at about 30 years. */
long long isf_lua_timeout_ms(lua_State *L, int idx);

#endif
