/* lua_conn.h: what other glue files may use of the Connection userdata
 * ("imapsift.Connection", lua_conn.c). */
#ifndef ISF_LUA_CONN_H
#define ISF_LUA_CONN_H

#include <lua.h>

#include "conn.h"

/* The C connection of the Connection at idx, or NULL once it is closed.
 * Raises an argument error when idx holds anything else. The pointer is
 * valid while the userdata is alive and not closed. */
struct isf_conn *isf_lua_toconn(lua_State *L, int idx);

#endif
