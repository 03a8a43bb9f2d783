/* lua_fetch.c: FETCH data as Lua tables (RFC 9051 section 7.5.2).
 *
 * ENVELOPE, BODYSTRUCTURE ("body" in RFC 9051 section 9) and the other
 * message attributes, with RFC 3516 BINARY and RFC 7162 MODSEQ. */
#include "lua_fetch.h"

#include <string.h>

#include "lua_nodes.h"

/* ---- ENVELOPE (RFC 9051 section 7.5.2) ------------------------------ */

static const char *const addr_fields[] = {"name", "adl", "mailbox", "host"};

/* How many of the first `most` items of list i are strings. */
static int count_strings(const struct isf_response *r, size_t i, int most)
{
    struct isf_cur c = isf_cur_open(r, i);
    size_t f;
    int m, n = 0;

    for (m = 0; m < most && (f = isf_cur_take(r, &c)) != ISF_NONE; m++)
        n += isf_strlike(r, f);
    return n;
}

/* Array of { name, adl, mailbox, host }; NIL parts absent, so group
 * markers keep their RFC shape (start: no host; end: no mailbox). Each
 * table is sized to the parts present: an address without a name (and
 * adl is nearly always NIL) fits two slots instead of four. */
static void push_addresses(lua_State *L, const struct isf_response *r,
                           size_t list)
{
    struct isf_cur c = isf_cur_open(r, list), in;
    size_t a, f;
    lua_Integer k = 0;
    int m;

    lua_createtable(L, isf_hint(r, list), 0);
    while ((a = isf_cur_take(r, &c)) != ISF_NONE) {
        if (!isf_is_type(r, a, ISF_NODE_LIST))
            continue;
        in = isf_cur_open(r, a);
        lua_createtable(L, 0, count_strings(r, a, 4));
        for (m = 0; m < 4 && (f = isf_cur_take(r, &in)) != ISF_NONE; m++)
            isf_set_str(L, r, f, addr_fields[m]);
        lua_rawseti(L, -2, ++k);
    }
}

static const char *const env_fields[] = {
    "date", "subject", "from", "sender",      "reply_to",
    "to",   "cc",      "bcc",  "in_reply_to", "message_id"};

/* Sized to the fields present: NIL fields are common and a table with
 * 8 slots instead of 16 saves a quarter of a FETCH's memory. */
static void push_envelope(lua_State *L, const struct isf_response *r,
                          size_t list)
{
    struct isf_cur c = isf_cur_open(r, list);
    size_t f;
    int m, n = 0;

    for (m = 0; m < 10 && (f = isf_cur_take(r, &c)) != ISF_NONE; m++)
        n += !isf_is_type(r, f, ISF_NODE_NIL);
    c = isf_cur_open(r, list);
    lua_createtable(L, 0, n);
    for (m = 0; m < 10 && (f = isf_cur_take(r, &c)) != ISF_NONE; m++) {
        if (m < 2 || m > 7) {
            isf_set_str(L, r, f, env_fields[m]);
        } else if (isf_is_type(r, f, ISF_NODE_LIST)) {
            push_addresses(L, r, f);
            lua_setfield(L, -2, env_fields[m]);
        }
    }
}

/* ---- BODYSTRUCTURE (RFC 9051 section 7.5.2, "body" in section 9) ------ */

/* t.params = { name (lower case) = value }; empty when NIL. */
static void set_params(lua_State *L, const struct isf_response *r, size_t i)
{
    struct isf_cur c = isf_cur_open(r, i);
    size_t k, v;

    lua_createtable(L, 0,
                    isf_is_type(r, i, ISF_NODE_LIST) ? isf_hint(r, i) / 2 : 0);
    while ((k = isf_cur_take(r, &c)) != ISF_NONE &&
           (v = isf_cur_take(r, &c)) != ISF_NONE) {
        if (!isf_strlike(r, k) || !isf_strlike(r, v))
            continue;
        isf_push_node_case(L, r, k, 0);
        isf_push_bytes(L, r, v);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "params");
}

/* disposition, language, location and further extension data, shared by
 * single parts (after md5) and multiparts (after params). */
static void body_ext(lua_State *L, const struct isf_response *r,
                     struct isf_cur *c, int depth)
{
    size_t d = isf_cur_take(r, c), g = isf_cur_take(r, c);

    if (isf_is_type(r, d, ISF_NODE_LIST)) {
        struct isf_cur in = isf_cur_open(r, d);

        lua_createtable(L, 0, 2);
        isf_set_lower(L, r, isf_cur_take(r, &in), "type");
        set_params(L, r, isf_cur_take(r, &in));
        lua_setfield(L, -2, "disposition");
    }
    if (isf_strlike(r, g)) {
        lua_createtable(L, 1, 0);
        isf_push_bytes(L, r, g);
        lua_rawseti(L, -2, 1);
        lua_setfield(L, -2, "language");
    } else if (isf_is_type(r, g, ISF_NODE_LIST)) {
        isf_set_strings(L, r, g, "language");
    }
    isf_set_str(L, r, isf_cur_take(r, c), "location");
    if (isf_cur_peek(c) != ISF_NONE) {
        isf_push_generic_rest(L, r, *c, 1, depth + 1);
        lua_setfield(L, -2, "extension");
    }
}

static void push_body(lua_State *L, const struct isf_response *r, size_t list,
                      int depth);

/* Fields of a multipart: type, parts and params (there even when NIL),
 * and one for each other item after the parts that is not NIL. */
static int multipart_hint(const struct isf_response *r, struct isf_cur c)
{
    size_t f;
    int n = 3, m = 0;

    while (isf_is_type(r, isf_cur_peek(&c), ISF_NODE_LIST))
        isf_cur_take(r, &c);
    while (n < 16 && (f = isf_cur_take(r, &c)) != ISF_NONE)
        if (m++ != 1) /* params, counted already */
            n += !isf_is_type(r, f, ISF_NODE_NIL);
    return n;
}

static void push_multipart(lua_State *L, const struct isf_response *r,
                           struct isf_cur c, int depth)
{
    lua_Integer k = 0;

    lua_createtable(L, 0, multipart_hint(r, c));
    lua_pushliteral(L, "multipart");
    lua_setfield(L, -2, "type");
    lua_createtable(L, 2, 0);
    while (isf_is_type(r, isf_cur_peek(&c), ISF_NODE_LIST)) {
        push_body(L, r, isf_cur_take(r, &c), depth + 1);
        lua_rawseti(L, -2, ++k);
    }
    lua_setfield(L, -2, "parts");
    isf_set_lower(L, r, isf_cur_take(r, &c), "subtype");
    set_params(L, r, isf_cur_take(r, &c));
    body_ext(L, r, &c, depth);
}

/* message/rfc822 (and message/global) carry envelope, body and lines when
 * the server sent them as lists; otherwise the part is read as basic. */
static void body_message(lua_State *L, const struct isf_response *r,
                         struct isf_cur *c, int depth)
{
    struct isf_cur d = *c;
    size_t env = isf_cur_take(r, &d), sub = isf_cur_take(r, &d);

    if (!isf_is_type(r, env, ISF_NODE_LIST) ||
        !isf_is_type(r, sub, ISF_NODE_LIST))
        return;
    *c = d;
    push_envelope(L, r, env);
    lua_setfield(L, -2, "envelope");
    push_body(L, r, sub, depth + 1);
    lua_setfield(L, -2, "body");
    isf_set_int(L, r, isf_cur_take(r, c), "lines");
}

/* Fields of a single part: at most one per item that is not NIL (the
 * extension items after location share one) plus params, which is there
 * even when NIL. Sized so, a plain text part takes 8 slots, not 16. */
static int onepart_hint(const struct isf_response *r, struct isf_cur c)
{
    size_t f;
    int n = 1;

    while (n < 16 && (f = isf_cur_take(r, &c)) != ISF_NONE)
        n += !isf_is_type(r, f, ISF_NODE_NIL);
    return n;
}

static void push_onepart(lua_State *L, const struct isf_response *r,
                         struct isf_cur c, int depth)
{
    size_t type, sub;

    lua_createtable(L, 0, onepart_hint(r, c));
    type = isf_cur_take(r, &c);
    sub = isf_cur_take(r, &c);
    isf_set_lower(L, r, type, "type");
    isf_set_lower(L, r, sub, "subtype");
    set_params(L, r, isf_cur_take(r, &c));
    isf_set_str(L, r, isf_cur_take(r, &c), "id");
    isf_set_str(L, r, isf_cur_take(r, &c), "description");
    isf_set_str(L, r, isf_cur_take(r, &c), "encoding");
    isf_set_int(L, r, isf_cur_take(r, &c), "size");
    if (isf_node_is(r, type, "TEXT"))
        isf_set_int(L, r, isf_cur_take(r, &c), "lines");
    else if (isf_node_is(r, type, "MESSAGE") &&
             (isf_node_is(r, sub, "RFC822") || isf_node_is(r, sub, "GLOBAL")))
        body_message(L, r, &c, depth);
    isf_set_str(L, r, isf_cur_take(r, &c), "md5");
    body_ext(L, r, &c, depth);
}

/* Multipart when the first item is itself a body (a list). */
static void push_body(lua_State *L, const struct isf_response *r, size_t list,
                      int depth)
{
    struct isf_cur c = isf_cur_open(r, list);

    if (depth >= ISF_MAX_NEST)
        lua_pushboolean(L, 0);
    else if (isf_is_type(r, isf_cur_peek(&c), ISF_NODE_LIST))
        push_multipart(L, r, c, depth);
    else
        push_onepart(L, r, c, depth);
}

/* ---- FETCH (RFC 9051 section 7.5.2, RFC 3516, RFC 7162) --------------- */

enum {
    FA_FLAGS = 1,
    FA_INTERNALDATE,
    FA_SIZE,
    FA_UID,
    FA_MODSEQ,
    FA_ENVELOPE,
    FA_BODYSTRUCTURE,
    FA_BODY,
    FA_BINARY,
    FA_BINARY_SIZE,
    FA_RFC822,
    FA_RFC822_HEADER,
    FA_RFC822_TEXT
};

/* Most frequent first: the scan stops at the first match. */
static const struct isf_word fetch_words[] = {
    ISF_W("UID", FA_UID),
    ISF_W("FLAGS", FA_FLAGS),
    ISF_W("RFC822.SIZE", FA_SIZE),
    ISF_W("INTERNALDATE", FA_INTERNALDATE),
    ISF_W("ENVELOPE", FA_ENVELOPE),
    ISF_W("BODY", FA_BODY),
    ISF_W("MODSEQ", FA_MODSEQ),
    ISF_W("BODYSTRUCTURE", FA_BODYSTRUCTURE),
    ISF_W("BINARY", FA_BINARY),
    ISF_W("BINARY.SIZE", FA_BINARY_SIZE),
    ISF_W("RFC822", FA_RFC822),
    ISF_W("RFC822.HEADER", FA_RFC822_HEADER),
    ISF_W("RFC822.TEXT", FA_RFC822_TEXT),
    {NULL, 0, 0},
};

/* Subtables of a FETCH table, made on first use. */
enum { FS_BODY, FS_ORIGIN, FS_BINARY, FS_BINSIZE, FS_EXT, FS_COUNT };

static const char *const fs_names[FS_COUNT] = {"body", "origin", "binary",
                                               "binary_size", "ext"};

struct fetch {
    lua_State *L;
    const struct isf_response *r;
    int t;             /* stack index of the FETCH table */
    int sub[FS_COUNT]; /* stack indices of the subtables, 0 until made */
};

/* One attribute name split as NAME[section]<origin>. */
struct attr {
    const char *s;
    size_t len, base;        /* whole name; bytes before '[' */
    size_t sec_off, sec_len; /* the section, between the brackets */
    int has_sec, has_origin, ok;
    uint64_t origin;
};

/* "<digits>" after the section, or nothing. 0 when malformed. */
static int parse_origin(const char *p, size_t n, struct attr *a)
{
    size_t k;
    uint64_t v = 0;

    if (n == 0)
        return 1;
    if (n < 3 || n > 21 || p[0] != '<' || p[n - 1] != '>')
        return 0;
    for (k = 1; k < n - 1; k++) {
        if (p[k] < '0' || p[k] > '9')
            return 0;
        v = v * 10 + (uint64_t)(p[k] - '0');
    }
    if (v > (uint64_t)LUA_MAXINTEGER)
        return 0;
    a->origin = v;
    a->has_origin = 1;
    return 1;
}

/* The section runs to the last ']', since a section holds no brackets
 * but the origin may follow it. */
static void split_attr(const char *s, size_t len, struct attr *a)
{
    const char *lb = memchr(s, '[', len);
    size_t rb = len;

    a->s = s;
    a->len = len;
    a->sec_off = a->sec_len = 0;
    a->has_sec = a->has_origin = 0;
    a->origin = 0;
    a->ok = 1;
    a->base = lb != NULL ? (size_t)(lb - s) : len;
    if (lb == NULL)
        return;
    while (rb > a->base + 1 && s[rb - 1] != ']')
        rb--;
    if (rb == a->base + 1) {
        a->ok = 0;
        return;
    }
    a->has_sec = 1;
    a->sec_off = a->base + 1;
    a->sec_len = rb - 1 - a->sec_off;
    a->ok = parse_origin(s + rb, len - rb, a);
}

/* Section keys longer than Lua's short strings (LUAI_MAXSHORTLEN, 40
 * bytes in 5.4) are not interned: every kept FETCH table of a scan for
 * BODY[HEADER.FIELDS (FROM SUBJECT TO CC DATE MESSAGE-ID)] would hold a
 * copy of its own. The last KEY_CACHE such keys live in a registry
 * array, newest first, compared bytewise, so one copy serves a whole
 * fetch (and the next). Keys over KEY_CACHE_MAX bytes are not kept. */
#define KEY_SHORT 40
#define KEY_CACHE 8
#define KEY_CACHE_MAX 512

static const char key_cache_id = 0;

/* Pushes the registry array of kept keys, made on first use. */
static void push_key_cache(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_cache_id) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, KEY_CACHE, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_cache_id);
}

/* 1 with the kept copy of s pushed, or 0 with nothing pushed; the
 * cache array is at stack index t. */
static int find_key(lua_State *L, int t, const char *s, size_t len)
{
    const char *k;
    size_t n;
    int i;

    for (i = 1; i <= KEY_CACHE; i++) {
        if (lua_rawgeti(L, t, i) != LUA_TSTRING) {
            lua_pop(L, 1);
            return 0;
        }
        k = lua_tolstring(L, -1, &n);
        if (n == len && memcmp(k, s, len) == 0)
            return 1;
        lua_pop(L, 1);
    }
    return 0;
}

/* Pushes s as a key of a FETCH subtable, the kept copy when there is
 * one (and keeps a new long one, dropping the oldest). */
static void push_key(lua_State *L, const char *s, size_t len)
{
    int t, i;

    if (len <= KEY_SHORT || len > KEY_CACHE_MAX) {
        lua_pushlstring(L, s, len);
        return;
    }
    push_key_cache(L);
    t = lua_gettop(L);
    if (!find_key(L, t, s, len)) {
        for (i = KEY_CACHE; i > 1; i--) {
            lua_rawgeti(L, t, i - 1);
            lua_rawseti(L, t, i);
        }
        lua_pushlstring(L, s, len);
        lua_pushvalue(L, -1);
        lua_rawseti(L, t, 1);
    }
    lua_remove(L, t);
}

/* Stack index of subtable `which`, created and linked on first use. */
static int fetch_sub(struct fetch *f, int which)
{
    if (f->sub[which] == 0) {
        lua_createtable(f->L, 0, 1);
        lua_pushvalue(f->L, -1);
        lua_setfield(f->L, f->t, fs_names[which]);
        f->sub[which] = lua_gettop(f->L);
    }
    return f->sub[which];
}

/* sub[key] = bytes of v, or false for NIL. 0 if v has another type. */
static int put_bytes(struct fetch *f, int which, const char *key, size_t klen,
                     size_t v)
{
    int t;

    if (!isf_strlike(f->r, v) && !isf_is_type(f->r, v, ISF_NODE_NIL))
        return 0;
    t = fetch_sub(f, which);
    push_key(f->L, key, klen);
    if (isf_strlike(f->r, v))
        isf_push_bytes(f->L, f->r, v);
    else
        lua_pushboolean(f->L, 0);
    lua_rawset(f->L, t);
    return 1;
}

/* BODY[section]<origin> and BINARY[section]. */
static int fetch_section(struct fetch *f, int which, const struct attr *a,
                         size_t v)
{
    const char *sec = a->s + a->sec_off;
    int t;

    if (!put_bytes(f, which, sec, a->sec_len, v))
        return 0;
    if (a->has_origin && which == FS_BODY) {
        t = fetch_sub(f, FS_ORIGIN);
        push_key(f->L, sec, a->sec_len);
        lua_pushinteger(f->L, (lua_Integer)a->origin);
        lua_rawset(f->L, t);
    }
    return 1;
}

/* RFC822 is the same as BODY[], kept under both names: one string, not
 * a copy each (a message's text is a long string, never interned). */
static int fetch_rfc822(struct fetch *f, size_t v)
{
    int t;

    if (!isf_strlike(f->r, v) && !isf_is_type(f->r, v, ISF_NODE_NIL))
        return 0;
    t = fetch_sub(f, FS_BODY);
    if (isf_strlike(f->r, v))
        isf_push_bytes(f->L, f->r, v);
    else
        lua_pushboolean(f->L, 0);
    lua_pushvalue(f->L, -1);
    lua_setfield(f->L, f->t, "rfc822");
    lua_setfield(f->L, t, "");
    return 1;
}

/* Pushes the value of a section-less attribute and returns its field
 * name, or returns NULL (pushing nothing) when v has the wrong type.
 * FLAGS is a new array for every message, though the lists repeat:
 * callers may change one message's flags, and a shared table made
 * read-only would need a proxy per message (an empty table, 56 bytes)
 * that saves only 16 to 32 of the 72 to 88 bytes of a flags array,
 * while breaking next, rawlen and the comparisons built on them. */
static const char *fetch_plain(struct fetch *f, int id, size_t v)
{
    lua_State *L = f->L;
    const struct isf_response *r = f->r;
    struct isf_cur c = isf_cur_open(r, v);
    int list = isf_is_type(r, v, ISF_NODE_LIST);
    int num = isf_is_type(r, v, ISF_NODE_NUMBER);

    if (id == FA_FLAGS && list)
        isf_push_strings(L, r, c, 0);
    else if (id == FA_INTERNALDATE && isf_strlike(r, v))
        isf_push_bytes(L, r, v);
    else if ((id == FA_SIZE || id == FA_UID) && num)
        lua_pushinteger(L, (lua_Integer)r->nodes[v].num);
    else if (id == FA_MODSEQ &&
             isf_is_type(r, isf_cur_peek(&c), ISF_NODE_NUMBER))
        lua_pushinteger(L, (lua_Integer)r->nodes[isf_cur_peek(&c)].num);
    else if (id == FA_ENVELOPE && list)
        push_envelope(L, r, v);
    else if ((id == FA_BODYSTRUCTURE || id == FA_BODY) && list)
        push_body(L, r, v, 1);
    else
        return NULL;
    return id == FA_FLAGS          ? "flags"
           : id == FA_INTERNALDATE ? "internaldate"
           : id == FA_SIZE         ? "size"
           : id == FA_UID          ? "uid"
           : id == FA_MODSEQ       ? "modseq"
           : id == FA_ENVELOPE     ? "envelope"
                                   : "bodystructure";
}

/* 1 when the attribute was stored, 0 when it belongs in ext. */
static int fetch_known(struct fetch *f, int id, const struct attr *a, size_t v)
{
    const char *field;
    int t;

    if (id == FA_BODY && a->has_sec)
        return fetch_section(f, FS_BODY, a, v);
    if (id == FA_BINARY || id == FA_BINARY_SIZE) {
        if (!a->has_sec)
            return 0;
        if (id == FA_BINARY)
            return fetch_section(f, FS_BINARY, a, v);
        if (!isf_is_type(f->r, v, ISF_NODE_NUMBER))
            return 0;
        t = fetch_sub(f, FS_BINSIZE);
        push_key(f->L, a->s + a->sec_off, a->sec_len);
        lua_pushinteger(f->L, (lua_Integer)f->r->nodes[v].num);
        lua_rawset(f->L, t);
        return 1;
    }
    if (a->has_sec)
        return 0;
    if (id == FA_RFC822)
        return fetch_rfc822(f, v);
    if (id == FA_RFC822_HEADER || id == FA_RFC822_TEXT)
        return put_bytes(f, FS_BODY, id == FA_RFC822_TEXT ? "TEXT" : "HEADER",
                         id == FA_RFC822_TEXT ? 4 : 6, v);
    if ((field = fetch_plain(f, id, v)) == NULL)
        return 0;
    lua_setfield(f->L, f->t, field);
    return 1;
}

/* ext[NAME] = generic value; the name is upper-cased up to its '['. */
static void fetch_ext(struct fetch *f, const struct attr *a, size_t v)
{
    int t = fetch_sub(f, FS_EXT);

    isf_push_case(f->L, a->s, a->len, a->base, 1);
    isf_push_generic(f->L, f->r, v, 1);
    lua_rawset(f->L, t);
}

static void fetch_one(struct fetch *f, size_t name, size_t v)
{
    const struct isf_node *n = &f->r->nodes[name];
    struct attr a;
    int id;

    if (!isf_strlike(f->r, name))
        return; /* a list or NIL where a name belongs: nothing to key on */
    split_attr(f->r->bytes + n->off, n->len, &a);
    id = a.ok ? isf_word_id(fetch_words, a.s, a.base) : 0;
    if (id == 0 || !fetch_known(f, id, &a, v))
        fetch_ext(f, &a, v);
}

void isf_push_fetch(lua_State *L, const struct isf_response *r, size_t seq,
                    size_t list)
{
    struct fetch f = {L, r, 0, {0}};
    struct isf_cur c = isf_cur_open(r, list);
    size_t name, v;

    lua_createtable(L, 0, 3 + isf_hint(r, list) / 2);
    f.t = lua_gettop(L);
    lua_pushliteral(L, "untagged");
    lua_setfield(L, f.t, "kind");
    lua_pushliteral(L, "FETCH");
    lua_setfield(L, f.t, "type");
    lua_pushinteger(L, (lua_Integer)r->nodes[seq].num);
    lua_setfield(L, f.t, "seq");
    while ((name = isf_cur_take(r, &c)) != ISF_NONE &&
           (v = isf_cur_take(r, &c)) != ISF_NONE)
        fetch_one(&f, name, v);
    lua_settop(L, f.t);
}
