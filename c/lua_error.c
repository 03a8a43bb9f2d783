/* lua_error.c: core failures as Lua error tables (see lua_error.h). */
#include "lua_error.h"

void isf_lua_push_error(lua_State *L, const struct isf_error *e)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, isf_err_kind(e->code));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, e->msg[0] ? e->msg : isf_err_kind(e->code));
    lua_setfield(L, -2, "text");
}

int isf_lua_fail(lua_State *L, const struct isf_error *e)
{
    lua_pushnil(L);
    isf_lua_push_error(L, e);
    return 2;
}

int isf_lua_raise(lua_State *L, const char *kind, const char *text)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, text);
    lua_setfield(L, -2, "text");
    return lua_error(L);
}
