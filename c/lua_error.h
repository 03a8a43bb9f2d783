/* lua_error.h: how failures of the core reach Lua: as error tables
 * { kind, text } returned after nil, or raised. Every glue file uses
 * these; they use nothing of the glue. */
#ifndef ISF_LUA_ERROR_H
#define ISF_LUA_ERROR_H

#include <lua.h>

#include "err.h"

/* Pushes an error table { kind = "protocol"|..., text = message }. */
void isf_lua_push_error(lua_State *L, const struct isf_error *e);

/* Returns nil, error table: the usual failure return of core functions. */
int isf_lua_fail(lua_State *L, const struct isf_error *e);

/* Raises an error table { kind, text } (never returns). Only at the
 * binding boundary, with no C resource held. */
int isf_lua_raise(lua_State *L, const char *kind, const char *text);

#endif
