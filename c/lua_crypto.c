/* lua_crypto.c: the cryptographic primitives SASL needs (hashes, HMAC,
 * PBKDF2, random nonces, XOR of keys), from OpenSSL, for the Lua layer
 * (RFC 2104 HMAC, RFC 8018 PBKDF2, as used by RFC 2195 CRAM-MD5 and
 * RFC 5802 / RFC 7677 SCRAM). Every function works on Lua strings of raw
 * bytes; outputs live on the stack, so no OpenSSL object is ever held
 * when an argument error raises. What they compute is key material (a
 * salted password, HMAC keys, a proof), so every output buffer is wiped
 * with OPENSSL_cleanse once Lua has its copy, and on failure too. */
#include <lauxlib.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "lua_core.h"
#include "lua_error.h"

/* Limits: far above anything SASL needs, low enough that a hostile
 * server's iteration count cannot pin the CPU for hours. */
#define MAX_ITERATIONS 10000000
#define MAX_DERIVED 1024 /* bytes PBKDF2 may produce */
#define MAX_RANDOM 4096  /* bytes random() may produce */
#define MAX_XOR 1024     /* bytes xor() takes: keys, not messages */

/* The digests SASL uses; anything else is refused by name. */
static const EVP_MD *digest_arg(lua_State *L, int idx)
{
    static const char *const names[] = {"sha1", "sha256", "md5", NULL};
    int which = luaL_checkoption(L, idx, NULL, names);

    switch (which) {
    case 0: return EVP_sha1();
    case 1: return EVP_sha256();
    default: return EVP_md5();
    }
}

/* A string argument whose length OpenSSL can take as an int. */
static const char *int_string_arg(lua_State *L, int idx, int *len)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);

    if (n > INT_MAX)
        luaL_argerror(L, idx, "too long");
    *len = (int)n;
    return s;
}

/* Raises "what failed" after dropping OpenSSL's error queue, so a later
 * TLS call does not read a stale error, and wiping the n bytes of out
 * that may hold part of a result. Nothing is held at this point. */
static int crypto_failed(lua_State *L, const char *what, void *out,
                         size_t n)
{
    OPENSSL_cleanse(out, n);
    ERR_clear_error();
    return luaL_error(L, "%s failed in OpenSSL", what);
}

/* Pushes the n bytes of out as a string and wipes out. A memory error
 * while pushing leaves them on the stack frame, which is about to go:
 * that is the one case not wiped. */
static int push_wiped(lua_State *L, void *out, size_t n)
{
    lua_pushlstring(L, (const char *)out, n);
    OPENSSL_cleanse(out, n);
    return 1;
}

/* hash(name, data) -> digest bytes */
static int l_hash(lua_State *L)
{
    const EVP_MD *md = digest_arg(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!EVP_Digest(data, n, out, &len, md, NULL))
        return crypto_failed(L, "hash", out, sizeof out);
    return push_wiped(L, out, len);
}

/* hmac(name, key, data) -> MAC bytes (HMAC one-shot: no context kept) */
static int l_hmac(lua_State *L)
{
    const EVP_MD *md = digest_arg(L, 1);
    int klen;
    const char *key = int_string_arg(L, 2, &klen);
    size_t n;
    const char *data = luaL_checklstring(L, 3, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (HMAC(md, key, klen, (const unsigned char *)data, n, out, &len) ==
        NULL)
        return crypto_failed(L, "hmac", out, sizeof out);
    return push_wiped(L, out, len);
}

/* pbkdf2(name, password, salt, iterations, length) -> derived key */
static int l_pbkdf2(lua_State *L)
{
    const EVP_MD *md = digest_arg(L, 1);
    int plen, slen;
    const char *pw = int_string_arg(L, 2, &plen);
    const char *salt = int_string_arg(L, 3, &slen);
    lua_Integer iter = luaL_checkinteger(L, 4);
    lua_Integer len = luaL_checkinteger(L, 5);
    unsigned char out[MAX_DERIVED];

    luaL_argcheck(L, iter >= 1, 4, "iterations must be at least 1");
    luaL_argcheck(L, iter <= MAX_ITERATIONS, 4, "too many iterations");
    luaL_argcheck(L, len >= 1 && len <= MAX_DERIVED, 5,
                  "length out of range");
    if (!PKCS5_PBKDF2_HMAC(pw, plen, (const unsigned char *)salt, slen,
                           (int)iter, md, (int)len, out))
        return crypto_failed(L, "pbkdf2", out, sizeof out);
    return push_wiped(L, out, (size_t)len);
}

/* random(n) -> n bytes from OpenSSL's CSPRNG; raises if it has none */
static int l_random(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char out[MAX_RANDOM];

    luaL_argcheck(L, n >= 0 && n <= MAX_RANDOM, 1, "length out of range");
    if (n > 0 && RAND_bytes(out, (int)n) != 1)
        return crypto_failed(L, "random", out, sizeof out);
    return push_wiped(L, out, (size_t)n);
}

/* xor(a, b) -> a XOR b, byte by byte; both the same length, at most
 * MAX_XOR bytes (a SCRAM proof is one digest long) */
static int l_xor(lua_State *L)
{
    size_t na, nb, i;
    const char *a = luaL_checklstring(L, 1, &na);
    const char *b = luaL_checklstring(L, 2, &nb);
    unsigned char out[MAX_XOR];

    luaL_argcheck(L, na == nb, 2, "must be as long as the first string");
    luaL_argcheck(L, na <= MAX_XOR, 1, "too long");
    for (i = 0; i < na; i++)
        out[i] = (unsigned char)(a[i] ^ b[i]);
    return push_wiped(L, out, na);
}

void isf_lua_open_crypto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"hash", l_hash},     {"hmac", l_hmac}, {"pbkdf2", l_pbkdf2},
        {"random", l_random}, {"xor", l_xor},   {NULL, NULL}};

    luaL_setfuncs(L, fns, 0);
}
