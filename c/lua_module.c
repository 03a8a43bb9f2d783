/* lua_module.c: the entry point of the loadable module imapsift/core.so,
 * so that plain lua5.4 and busted load the same code as the host. */
#include <lua.h>

#include "lua_core.h"

int luaopen_imapsift_core(lua_State *L)
{
    return isf_lua_open(L);
}
