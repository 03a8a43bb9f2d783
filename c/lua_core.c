/* lua_core.c: builds the imapsift.core module table from the glue parts,
 * and its small functions of its own (base64, sleep). */
#include "lua_core.h"

#include <lauxlib.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua_command.h"
#include "lua_response.h"

/* base64_encode(bytes) -> text (RFC 4648, for SASL exchanges). */
static int l_b64_encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *out;
    int len;

    if (n > 0x3fffffff)
        return luaL_argerror(L, 1, "too long");
    out = luaL_buffinitsize(L, &b, 4 * ((n + 2) / 3) + 1);
    len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
                          (int)n);
    luaL_pushresultsize(&b, (size_t)len);
    return 1;
}

/* 1 when s[0..n) is strict base64: the alphabet, then at most two "="
 * at the end. OpenSSL skips white space, which would leave the padding
 * count below wrong. */
static int b64_strict(const char *s, size_t n)
{
    size_t i, body = n;

    while (body > 0 && n - body < 2 && s[body - 1] == '=')
        body--;
    for (i = 0; i < body; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

/* base64_decode(text) -> bytes | nil (invalid input). */
static int l_b64_decode(lua_State *L)
{
    size_t n, pad = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *out;
    int len;

    if (n % 4 != 0 || n > 0x3fffffff || !b64_strict(s, n)) {
        lua_pushnil(L);
        return 1;
    }
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    out = luaL_buffinitsize(L, &b, n / 4 * 3 + 1);
    len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s,
                          (int)n);
    if (len < 0 || (size_t)len < pad) {
        lua_pushnil(L);
        return 1;
    }
    luaL_pushresultsize(&b, (size_t)len - pad);
    return 1;
}

/* sleep(seconds): blocks for that long (reconnect's backoff between
 * attempts). A signal ends it early rather than resuming, so that the
 * host's interrupt handler gets to stop the script. */
static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;

    /* also refuses NaN, which fails every comparison */
    luaL_argcheck(L, s >= 0 && s <= 86400.0 * 366, 1,
                  "must be between 0 and a year of seconds");
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    if (ts.tv_nsec > 999999999L)
        ts.tv_nsec = 999999999L;
    /* the arguments are valid, so only EINTR can end it early */
    (void)nanosleep(&ts, NULL);
    return 0;
}

int isf_lua_open(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_b64_encode);
    lua_setfield(L, -2, "base64_encode");
    lua_pushcfunction(L, l_b64_decode);
    lua_setfield(L, -2, "base64_decode");
    lua_pushcfunction(L, l_sleep);
    lua_setfield(L, -2, "sleep");
    isf_lua_open_parser(L);
    isf_lua_open_command(L);
    isf_lua_open_conn(L);
    isf_lua_open_poll(L);
    isf_lua_open_signal(L);
    isf_lua_open_sys(L);
    isf_lua_open_crypto(L);
    isf_lua_open_run(L);
    isf_lua_open_regex(L);
    isf_lua_open_iconv(L);
    lua_pushliteral(L, "imapsift.core 0.1");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
