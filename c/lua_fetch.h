/* lua_fetch.h: FETCH data as Lua tables (RFC 9051 section 7.5.2). */
#ifndef ISF_LUA_FETCH_H
#define ISF_LUA_FETCH_H

#include <lua.h>

#include "parser.h"

/* Pushes the table of "* seq FETCH (list)" (shape in lua_response.h);
 * seq is the NUMBER node, list the LIST node of attribute/value pairs. */
void isf_push_fetch(lua_State *L, const struct isf_response *r, size_t seq,
                    size_t list);

#endif
