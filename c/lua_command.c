/* lua_command.c: Lua argument lists to commands (lua_command.h) and the
 * module functions encode, quote, valid, mutf7_encode and mutf7_decode. */
#include "lua_command.h"

#include <lauxlib.h>
#include <lua.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "grammar.h"
#include "mutf7.h"

#define MAX_DEPTH 32             /* nesting of parenthesized lists */
#define ENCODE_MAX (64u << 20)   /* default command cap for encode() */
#define SCRATCH "imapsift.CommandScratch"

/* The kinds of a table argument, in the order messages list them. */
enum kind {
    K_STR, K_QSTR, K_MAILBOX, K_SECRET, K_LITERAL, K_GLUE,
    K_FLAG, K_SEQSET, K_FETCH, K_RAW, K_NONE
};
static const char *const kind_names[] = {
    "str",  "qstr", "mailbox", "secret", "literal",
    "glue", "flag", "seqset",  "fetch",  "raw"};
#define KIND_LIST                                                         \
    "str, qstr, mailbox, secret, literal, glue, flag, seqset, fetch or raw"

/* One walk over an argument list; pos[] is the element being encoded at
 * each nesting level, for messages such as "argument 3.2: ...". */
struct walk {
    lua_State *L;
    struct isf_cmd *c;
    struct isf_error *e;
    lua_Integer pos[MAX_DEPTH + 1];
};

/* What scanning a table's keys found. */
struct shape {
    enum kind kind;
    int nkinds;   /* how many kind keys (must be 0 or 1) */
    int items;    /* has keys 1..#t */
    int stray;    /* has any other key */
    int binary;   /* value of the "binary" key */
    int has_binary;
};

static int arg_fail(struct walk *w, int depth, int code, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static int arg_fail(struct walk *w, int depth, int code, const char *fmt,
                    ...)
{
    char path[(MAX_DEPTH + 1) * 22], detail[256];
    size_t len = 0;
    va_list ap;
    int i;

    path[0] = '\0';
    for (i = 0; i <= depth && len < sizeof path; i++)
        len += (size_t)snprintf(path + len, sizeof path - len, "%s%lld",
                                i ? "." : "", (long long)w->pos[i]);
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return isf_error_set(w->e, code, "argument %s: %s", path, detail);
}

/* After a core call failed: its reason, named after the argument. */
static int cmd_fail(struct walk *w, int depth, int rc)
{
    return arg_fail(w, depth, rc, "%s", w->c->why);
}

static int walk_list(struct walk *w, int t, int depth);

static int ascii_ieq(const char *a, size_t n, const char *b)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char x = a[i], y = b[i];

        if (x >= 'a' && x <= 'z')
            x = (char)(x - 'a' + 'A');
        if (y == '\0' || x != y)
            return 0;
    }
    return b[n] == '\0';
}

/* A mailbox name in UTF-8: INBOX in any case is the special name INBOX;
 * others go as modified UTF-7 unless UTF8=ACCEPT is on. The temporary
 * buffer is freed before returning. */
static int put_mailbox(struct walk *w, int depth, const char *s, size_t n)
{
    struct isf_buf b;
    int rc;

    if (ascii_ieq(s, n, "INBOX"))
        rc = isf_cmd_atom(w->c, "INBOX", 5);
    else {
        /* Encoding also validates the UTF-8 that UTF8=ACCEPT sends as is. */
        isf_buf_init(&b, w->c->wire.max);
        rc = isf_mutf7_encode(&b, s, n);
        if (rc == 0 && (w->c->flags & ISF_CMD_UTF8))
            rc = isf_cmd_astring(w->c, s, n);
        else if (rc == 0)
            rc = isf_cmd_astring(w->c, b.data ? b.data : "", b.len);
        isf_buf_free(&b);
        if (rc == ISF_EUSAGE && !w->c->failed)
            return arg_fail(w, depth, rc,
                            "mailbox name is not valid UTF-8 or holds NUL");
        if (rc && !w->c->failed)
            return arg_fail(w, depth, rc, "mailbox name too long");
    }
    return rc ? cmd_fail(w, depth, rc) : 0;
}

/* Records the key at -2 (value at -1) of a table being traversed. The
 * kind's value is copied to slot. Only raw, non-allocating calls. */
static void scan_key(lua_State *L, struct shape *sh, lua_Integer n,
                     int slot)
{
    size_t kl;
    const char *k;
    int j;

    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
        lua_Integer i = lua_tointeger(L, -2);

        if (i >= 1 && i <= n)
            sh->items = 1;
        else
            sh->stray = 1;
        return;
    }
    if (lua_type(L, -2) != LUA_TSTRING) {
        sh->stray = 1;
        return;
    }
    k = lua_tolstring(L, -2, &kl);
    for (j = 0; j < K_NONE; j++)
        if (strlen(kind_names[j]) == kl && memcmp(k, kind_names[j], kl) == 0)
            break;
    if (j < K_NONE) {
        sh->kind = (enum kind)j;
        sh->nkinds++;
        lua_pushvalue(L, -1);
        lua_replace(L, slot);
    } else if (kl == 6 && memcmp(k, "binary", 6) == 0) {
        sh->has_binary = 1;
        sh->binary = lua_toboolean(L, -1);
    } else {
        sh->stray = 1;
    }
}

/* Scans table t; on return the kind's value (or nil) is on the top. */
static void scan_table(lua_State *L, int t, struct shape *sh)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    int slot;

    memset(sh, 0, sizeof *sh);
    sh->kind = K_NONE;
    lua_pushnil(L);
    slot = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        scan_key(L, sh, n, slot);
        lua_pop(L, 1);
    }
}

static int put_kind(struct isf_cmd *c, const struct shape *sh,
                    const char *s, size_t n)
{
    switch (sh->kind) {
    case K_STR: return isf_cmd_astring(c, s, n);
    case K_QSTR: return isf_cmd_string(c, s, n);
    case K_SECRET: return isf_cmd_secret(c, s, n);
    case K_LITERAL: return isf_cmd_literal(c, s, n, sh->binary);
    case K_FLAG: return isf_cmd_flag(c, s, n);
    case K_SEQSET: return isf_cmd_seqset(c, s, n);
    case K_FETCH: return isf_cmd_fetch_att(c, s, n);
    case K_RAW: return isf_cmd_raw(c, s, n);
    default: return isf_cmd_glue(c, s, n);
    }
}

/* An array table inside the argument list: a parenthesized list. */
static int walk_sublist(struct walk *w, int t, int depth)
{
    int rc;

    if (depth >= MAX_DEPTH)
        return arg_fail(w, depth, ISF_EUSAGE, "lists nested deeper than %d",
                        MAX_DEPTH);
    if ((rc = isf_cmd_open(w->c)) != 0)
        return cmd_fail(w, depth, rc);
    if ((rc = walk_list(w, t, depth + 1)) != 0)
        return rc;
    rc = isf_cmd_close(w->c);
    return rc ? cmd_fail(w, depth, rc) : 0;
}

/* A table argument: one kind key with a string, or an array (a list). */
static int walk_table(struct walk *w, int t, int depth)
{
    lua_State *L = w->L;
    struct shape sh;
    const char *s;
    size_t n;
    int rc;

    scan_table(L, t, &sh);
    if (sh.nkinds > 1)
        return arg_fail(w, depth, ISF_EUSAGE,
                        "a table may have only one of " KIND_LIST);
    if (sh.nkinds == 0) {
        if (sh.stray || sh.has_binary)
            return arg_fail(w, depth, ISF_EUSAGE,
                            "a table needs " KIND_LIST
                            ", or must be an array");
        return walk_sublist(w, t, depth);
    }
    if (sh.items || sh.stray || (sh.has_binary && sh.kind != K_LITERAL))
        return arg_fail(w, depth, ISF_EUSAGE, "unexpected field beside %s",
                        kind_names[sh.kind]);
    if (lua_type(L, -1) != LUA_TSTRING)
        return arg_fail(w, depth, ISF_EUSAGE, "%s must be a string, got %s",
                        kind_names[sh.kind],
                        lua_typename(L, lua_type(L, -1)));
    s = lua_tolstring(L, -1, &n);
    if (sh.kind == K_MAILBOX)
        return put_mailbox(w, depth, s, n);
    rc = put_kind(w->c, &sh, s, n);
    return rc ? cmd_fail(w, depth, rc) : 0;
}

static int walk_number(struct walk *w, int idx, int depth)
{
    int ok = 0;
    lua_Integer v = lua_tointegerx(w->L, idx, &ok);
    int rc;

    if (!ok)
        return arg_fail(w, depth, ISF_EUSAGE, "number is not an integer");
    if (v < 0)
        return arg_fail(w, depth, ISF_EUSAGE, "number is negative");
    rc = isf_cmd_number(w->c, (unsigned long long)v);
    return rc ? cmd_fail(w, depth, rc) : 0;
}

/* Encodes the element at idx. Leaves the stack as it found it. */
static int walk_elem(struct walk *w, int idx, int depth)
{
    lua_State *L = w->L;
    int top = lua_gettop(L), rc, type = lua_type(L, idx);
    const char *s;
    size_t n;

    if (!lua_checkstack(L, 4))
        return arg_fail(w, depth, ISF_ENOMEM, "Lua stack exhausted");
    if (type == LUA_TSTRING) {
        /* An atom only when it is one: text never becomes syntax. */
        s = lua_tolstring(L, idx, &n);
        rc = isf_cmd_astring(w->c, s, n);
        rc = rc ? cmd_fail(w, depth, rc) : 0;
    } else if (type == LUA_TNUMBER) {
        rc = walk_number(w, idx, depth);
    } else if (type == LUA_TTABLE) {
        rc = walk_table(w, idx, depth);
    } else {
        rc = arg_fail(w, depth, ISF_EUSAGE,
                      "expected a string, an integer or a table, got %s",
                      lua_typename(L, type));
    }
    lua_settop(L, top);
    return rc;
}

static int walk_list(struct walk *w, int t, int depth)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(w->L, t);
    int rc;

    for (i = 1; i <= n; i++) {
        w->pos[depth] = i;
        lua_rawgeti(w->L, t, i);
        rc = walk_elem(w, lua_gettop(w->L), depth);
        lua_pop(w->L, 1);
        if (rc)
            return rc;
    }
    return 0;
}

int isf_lua_build_args(lua_State *L, int idx, struct isf_cmd *c,
                       struct isf_error *e)
{
    struct walk w;
    struct shape sh;
    int top = lua_gettop(L), rc;

    idx = lua_absindex(L, idx);
    isf_error_clear(e);
    if (c->failed)
        return isf_error_set(e, c->failed, "%s", c->why);
    if (lua_type(L, idx) != LUA_TTABLE)
        return isf_error_set(e, ISF_EUSAGE, "arguments must be a table");
    if (!lua_checkstack(L, 6))
        return isf_error_set(e, ISF_ENOMEM, "Lua stack exhausted");
    scan_table(L, idx, &sh);
    lua_settop(L, top);
    if (sh.nkinds || sh.stray || sh.has_binary)
        return isf_error_set(e, ISF_EUSAGE,
                             "the argument list must be an array");
    w.L = L;
    w.c = c;
    w.e = e;
    rc = walk_list(&w, idx, 0);
    lua_settop(L, top);
    return rc;
}

/* --- module functions --------------------------------------------------- */

/* Memory the module functions hold while they may still raise (pushing
 * results can fail for lack of memory): __gc frees it in that case. */
struct scratch {
    struct isf_cmd cmd;
    struct isf_buf buf;
};

static void scratch_free(struct scratch *s)
{
    isf_cmd_free(&s->cmd);
    isf_buf_free(&s->buf);
}

static int scratch_gc(lua_State *L)
{
    scratch_free(luaL_checkudata(L, 1, SCRATCH));
    return 0;
}

static struct scratch *scratch_new(lua_State *L, size_t buf_max)
{
    struct scratch *s = lua_newuserdatauv(L, sizeof *s, 0);

    memset(s, 0, sizeof *s);
    isf_buf_init(&s->cmd.wire, 0);
    isf_buf_init(&s->cmd.trace, 0);
    isf_buf_init(&s->buf, buf_max);
    luaL_setmetatable(L, SCRATCH);
    return s;
}

static int flag(lua_State *L, int idx, const char *key, unsigned bit)
{
    int on = lua_getfield(L, idx, key) != LUA_TNIL && lua_toboolean(L, -1);

    lua_pop(L, 1);
    return on ? (int)bit : 0;
}

/* The optional flags table at idx: booleans literal_plus, literal_minus,
 * utf8, binary and an integer max_bytes. Raises on bad types. */
static unsigned check_flags(lua_State *L, int idx, size_t *max_bytes)
{
    unsigned f = 0;

    *max_bytes = ENCODE_MAX;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    f |= (unsigned)flag(L, idx, "literal_plus", ISF_CMD_LITERAL_PLUS);
    f |= (unsigned)flag(L, idx, "literal_minus", ISF_CMD_LITERAL_MINUS);
    f |= (unsigned)flag(L, idx, "utf8", ISF_CMD_UTF8);
    f |= (unsigned)flag(L, idx, "binary", ISF_CMD_BINARY);
    if (lua_getfield(L, idx, "max_bytes") != LUA_TNIL) {
        lua_Integer m = luaL_checkinteger(L, -1);

        luaL_argcheck(L, m > 0, idx, "max_bytes must be positive");
        *max_bytes = (size_t)m;
    }
    lua_pop(L, 1);
    return f;
}

/* encode(tag, name, args [, flags]) -> wire, trace, { segment ends } */
static int l_encode(lua_State *L)
{
    const char *tag = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2);
    struct isf_error e;
    struct scratch *s;
    size_t max, i;
    unsigned flags;
    int rc;

    luaL_checktype(L, 3, LUA_TTABLE);
    flags = check_flags(L, 4, &max);
    s = scratch_new(L, 0);
    isf_cmd_init(&s->cmd, tag, name, flags, max);
    rc = isf_lua_build_args(L, 3, &s->cmd, &e);
    if (rc == 0)
        rc = isf_cmd_finish(&s->cmd, &e);
    if (rc != 0) {
        scratch_free(s);
        return luaL_error(L, "%s", e.msg);
    }
    lua_pushlstring(L, s->cmd.wire.data, s->cmd.wire.len);
    lua_pushlstring(L, s->cmd.trace.data, s->cmd.trace.len);
    lua_createtable(L, (int)s->cmd.nseg, 0);
    for (i = 0; i < s->cmd.nseg; i++) {
        lua_pushinteger(L, (lua_Integer)s->cmd.seg_end[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    scratch_free(s);
    return 3;
}

static size_t grown(size_t n, size_t factor)
{
    return n > (SIZE_MAX - 64) / factor ? SIZE_MAX - 1 : n * factor + 64;
}

/* quote(s [, flags]) -> s as isf_cmd_astring would send it */
static int l_quote(lua_State *L)
{
    size_t n, max;
    const char *str = luaL_checklstring(L, 1, &n);
    unsigned flags = check_flags(L, 2, &max);
    struct scratch *s = scratch_new(L, grown(n, 2));
    int rc = isf_quote(&s->buf, str, n, flags);

    if (rc != 0) {
        scratch_free(s);
        return luaL_error(L, "quote: %s", rc == ISF_EUSAGE
                                              ? "a string with a NUL byte"
                                                " cannot be sent"
                                              : "out of memory");
    }
    lua_pushlstring(L, s->buf.data ? s->buf.data : "", s->buf.len);
    scratch_free(s);
    return 1;
}

/* Shared body of mutf7_encode and mutf7_decode: result, or nil and a
 * message when the input is invalid. */
static int mutf7_call(lua_State *L, int decode)
{
    size_t n;
    const char *str = luaL_checklstring(L, 1, &n);
    struct scratch *s = scratch_new(L, grown(n, decode ? 2 : 5));
    int rc = decode ? isf_mutf7_decode(&s->buf, str, n)
                    : isf_mutf7_encode(&s->buf, str, n);

    if (rc != 0) {
        scratch_free(s);
        lua_pushnil(L);
        if (rc == ISF_ENOMEM || rc == ISF_ELIMIT)
            lua_pushstring(L, "out of memory");
        else
            lua_pushstring(L, decode ? "not valid modified UTF-7"
                                     : "not valid UTF-8 or holds NUL");
        return 2;
    }
    lua_pushlstring(L, s->buf.data ? s->buf.data : "", s->buf.len);
    scratch_free(s);
    return 1;
}

/* valid(kind, s) -> true | false, reason: whether s is one instance of
 * "atom", "flag", "seqset" or "fetch" (the checks of the table forms). */
static int l_valid(lua_State *L)
{
    static const char *const kinds[] = {"atom", "flag", "seqset", "fetch",
                                        NULL};
    static int (*const checks[])(const char *, size_t, const char **) = {
        isf_gram_atom, isf_gram_flag, isf_gram_seqset, isf_gram_fetch_att};
    int k = luaL_checkoption(L, 1, NULL, kinds);
    const char *why = NULL;
    size_t n;
    const char *s;

    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "a string is needed, got %s",
                        luaL_typename(L, 2));
        return 2;
    }
    s = lua_tolstring(L, 2, &n);
    if (checks[k](s, n, &why)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, why);
    return 2;
}

static int l_mutf7_encode(lua_State *L)
{
    return mutf7_call(L, 0);
}

static int l_mutf7_decode(lua_State *L)
{
    return mutf7_call(L, 1);
}

void isf_lua_open_command(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"encode", l_encode},
        {"quote", l_quote},
        {"valid", l_valid},
        {"mutf7_encode", l_mutf7_encode},
        {"mutf7_decode", l_mutf7_decode},
        {NULL, NULL},
    };

    if (luaL_newmetatable(L, SCRATCH)) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
