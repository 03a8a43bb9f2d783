/* lua_response.c: parsed IMAP responses as Lua tables (RFC 3501 and RFC
 * 9051 section 7; RFC 3516 BINARY, RFC 4731 ESEARCH, RFC 7162 MODSEQ, RFC
 * 2342 NAMESPACE, RFC 2971 ID, RFC 5161 ENABLED), and the Parser userdata.
 *
 * The node tree comes from the parser, but its shape comes from the
 * server: every walk goes through a cursor clamped to its parent's
 * subtree, so wrong types or lying counts skip a field instead of reading
 * out of bounds. This is the hot path of every FETCH, so field names are
 * compared in place and Lua strings are made only for values. */
#include "lua_response.h"

#include <lauxlib.h>
#include <limits.h>
#include <string.h>

#include "lua_core.h"

#define PARSER_MT "imapsift.Parser"
#define NONE ((size_t)-1)
/* Lists nested deeper than this become false: it bounds C recursion and
 * the Lua stack whatever max_depth the user chose. */
#define MAX_NEST 128
#define STACK_NEED (4 * MAX_NEST + 32)

/* ---- walking the node tree ------------------------------------------ */

/* The children of one list, in order; i == end when exhausted. */
struct cur {
    size_t i, end;
};

static size_t clamp_end(const struct isf_response *r, size_t i, size_t lim)
{
    size_t e = r->nodes[i].end;

    return (e <= i || e > lim) ? lim : e;
}

/* A cursor over list's children; empty if list is not a LIST. */
static struct cur cur_open(const struct isf_response *r, size_t list)
{
    struct cur c = {0, 0};

    if (list < r->nnodes && r->nodes[list].type == ISF_NODE_LIST) {
        c.i = list + 1;
        c.end = clamp_end(r, list, r->nnodes);
    }
    return c;
}

/* The next child's index, or NONE. Always advances by at least one. */
static size_t cur_take(const struct isf_response *r, struct cur *c)
{
    size_t j = c->i;

    if (j >= c->end)
        return NONE;
    c->i = clamp_end(r, j, c->end);
    return j;
}

static size_t cur_peek(const struct cur *c)
{
    return c->i < c->end ? c->i : NONE;
}

static const struct isf_node *node(const struct isf_response *r, size_t i)
{
    return i == NONE ? NULL : &r->nodes[i];
}

static int is_type(const struct isf_response *r, size_t i, int type)
{
    return i != NONE && r->nodes[i].type == type;
}

/* ATOM, NUMBER and STRING all carry bytes a Lua string can hold. */
static int strlike(const struct isf_response *r, size_t i)
{
    return i != NONE && r->nodes[i].type != ISF_NODE_LIST &&
           r->nodes[i].type != ISF_NODE_NIL;
}

/* A size hint for lua_createtable that no lying count can inflate. */
static int hint(const struct isf_response *r, size_t list)
{
    const struct isf_node *n = &r->nodes[list];
    size_t most = clamp_end(r, list, r->nnodes) - list - 1;
    size_t h = n->count < most ? n->count : most;

    return h > 4096 ? 4096 : (int)h;
}

/* ---- case-insensitive words, no allocation -------------------------- */

static char up(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static char low(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

struct word {
    const char *s; /* upper case */
    unsigned char len;
    unsigned char id;
};

/* clang-format off */
#define W(s, id) {s, sizeof s - 1, id}
/* clang-format on */

/* ASCII only, so a Turkish locale cannot change what "uid" matches. */
static int same_ci(const char *s, size_t n, const struct word *w)
{
    size_t k;

    if (n != w->len)
        return 0;
    for (k = 0; k < n; k++)
        if (up(s[k]) != w->s[k])
            return 0;
    return 1;
}

/* The id of s in words (ended by a NULL s), or 0. */
static int word_id(const struct word *words, const char *s, size_t n)
{
    for (; words->s != NULL; words++)
        if (same_ci(s, n, words))
            return words->id;
    return 0;
}

static int node_is(const struct isf_response *r, size_t i, const char *w)
{
    struct word x = {w, (unsigned char)strlen(w), 1};

    return strlike(r, i) &&
           same_ci(r->bytes + r->nodes[i].off, r->nodes[i].len, &x);
}

/* Pushes s with its first `upto` bytes changed to upper (or lower) case. */
static void push_case(lua_State *L, const char *s, size_t n, size_t upto,
                      int upper)
{
    char tmp[128];
    luaL_Buffer b;
    char *d = n <= sizeof tmp ? tmp : luaL_buffinitsize(L, &b, n);
    size_t k;

    for (k = 0; k < n; k++)
        d[k] = k >= upto ? s[k] : upper ? up(s[k]) : low(s[k]);
    if (d == tmp)
        lua_pushlstring(L, tmp, n);
    else
        luaL_pushresultsize(&b, n);
}

/* ---- small setters on the table at the top of the stack -------------- */

static void push_bytes(lua_State *L, const struct isf_response *r, size_t i)
{
    lua_pushlstring(L, r->bytes + r->nodes[i].off, r->nodes[i].len);
}

static void push_node_case(lua_State *L, const struct isf_response *r, size_t i,
                           int upper)
{
    const struct isf_node *n = &r->nodes[i];

    push_case(L, r->bytes + n->off, n->len, n->len, upper);
}

/* t[k] = the bytes of node i, if it has bytes (NIL and lists: absent). */
static void set_str(lua_State *L, const struct isf_response *r, size_t i,
                    const char *k)
{
    if (strlike(r, i)) {
        push_bytes(L, r, i);
        lua_setfield(L, -2, k);
    }
}

static void set_lower(lua_State *L, const struct isf_response *r, size_t i,
                      const char *k)
{
    if (strlike(r, i)) {
        push_node_case(L, r, i, 0);
        lua_setfield(L, -2, k);
    }
}

static void set_int(lua_State *L, const struct isf_response *r, size_t i,
                    const char *k)
{
    if (is_type(r, i, ISF_NODE_NUMBER)) {
        lua_pushinteger(L, (lua_Integer)r->nodes[i].num);
        lua_setfield(L, -2, k);
    }
}

/* ---- generic values ------------------------------------------------- */

static void push_generic(lua_State *L, const struct isf_response *r, size_t i,
                         int depth);

/* Pushes an array of the generic values of the cursor's remaining items. */
static void push_generic_rest(lua_State *L, const struct isf_response *r,
                              struct cur c, int n, int depth)
{
    size_t j;
    lua_Integer k = 0;

    lua_createtable(L, n, 0);
    while ((j = cur_take(r, &c)) != NONE) {
        push_generic(L, r, j, depth);
        lua_rawseti(L, -2, ++k);
    }
}

/* ATOM and STRING -> string, NUMBER -> integer, NIL -> false, LIST ->
 * array; lists nested past MAX_NEST -> false. */
static void push_generic(lua_State *L, const struct isf_response *r, size_t i,
                         int depth)
{
    const struct isf_node *n = &r->nodes[i];

    switch (n->type) {
    case ISF_NODE_ATOM:
    case ISF_NODE_STRING:
        push_bytes(L, r, i);
        break;
    case ISF_NODE_NUMBER:
        lua_pushinteger(L, (lua_Integer)n->num);
        break;
    case ISF_NODE_LIST:
        if (depth < MAX_NEST) {
            push_generic_rest(L, r, cur_open(r, i), hint(r, i), depth + 1);
            break;
        }
        /* fall through */
    default:
        lua_pushboolean(L, 0);
    }
}

/* Pushes an array of the strings among the cursor's remaining items;
 * with flatten, the strings inside list items too (one level). */
static void push_strings(lua_State *L, const struct isf_response *r,
                         struct cur c, int flatten)
{
    size_t j, m;
    lua_Integer k = 0;

    lua_createtable(L, (int)(c.end - c.i < 64 ? c.end - c.i : 64), 0);
    while ((j = cur_take(r, &c)) != NONE) {
        if (strlike(r, j)) {
            push_bytes(L, r, j);
            lua_rawseti(L, -2, ++k);
        } else if (flatten && is_type(r, j, ISF_NODE_LIST)) {
            struct cur in = cur_open(r, j);

            while ((m = cur_take(r, &in)) != NONE)
                if (strlike(r, m)) {
                    push_bytes(L, r, m);
                    lua_rawseti(L, -2, ++k);
                }
        }
    }
}

/* t[k] = array of the strings of list i; an empty array if not a list. */
static void set_strings(lua_State *L, const struct isf_response *r, size_t i,
                        const char *k)
{
    push_strings(L, r, cur_open(r, i), 0);
    lua_setfield(L, -2, k);
}

/* ---- response codes (RFC 9051 section 7.1) --------------------------- */

enum { C_OTHER, C_INT, C_STRINGS, C_APPENDUID, C_COPYUID };

static const struct word code_words[] = {
    W("UIDNEXT", C_INT),
    W("UIDVALIDITY", C_INT),
    W("UNSEEN", C_INT),
    W("HIGHESTMODSEQ", C_INT),
    W("APPENDLIMIT", C_INT),
    W("PERMANENTFLAGS", C_STRINGS),
    W("BADCHARSET", C_STRINGS),
    W("CAPABILITY", C_STRINGS),
    W("APPENDUID", C_APPENDUID),
    W("COPYUID", C_COPYUID),
    {NULL, 0, 0},
};

/* Sets value from the arguments after the code name. */
static void code_value(lua_State *L, const struct isf_response *r, int kind,
                       struct cur c)
{
    size_t a = cur_take(r, &c);

    if (kind == C_INT) {
        set_int(L, r, a, "value");
        return;
    }
    if (kind == C_STRINGS) {
        c.i = a == NONE ? c.end : a;
        push_strings(L, r, c, 1);
        lua_setfield(L, -2, "value");
        return;
    }
    if (kind != C_APPENDUID && kind != C_COPYUID)
        return;
    lua_createtable(L, 0, 3);
    set_int(L, r, a, "uidvalidity");
    set_str(L, r, cur_take(r, &c), kind == C_APPENDUID ? "uids" : "source");
    if (kind == C_COPYUID)
        set_str(L, r, cur_take(r, &c), "dest");
    lua_setfield(L, -2, "value");
}

/* name, value and args from the code's nodes (name first). */
static void code_fields(lua_State *L, const struct isf_response *r)
{
    struct cur c = cur_open(r, r->code_node);
    size_t name = cur_take(r, &c);
    const struct isf_node *n = node(r, name);
    int kind;

    if (!strlike(r, name))
        return;
    kind = word_id(code_words, r->bytes + n->off, n->len);
    push_node_case(L, r, name, 1);
    lua_setfield(L, -2, "name");
    code_value(L, r, kind, c);
    if (cur_peek(&c) != NONE) {
        push_generic_rest(L, r, c, 2, 1);
        lua_setfield(L, -2, "args");
    }
}

/* t.code = { name, raw, value, args } when the response had a code. */
static void set_code(lua_State *L, const struct isf_response *r)
{
    if (!r->has_code)
        return;
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, r->bytes + r->code_off, r->code_len);
    lua_setfield(L, -2, "raw");
    if (r->code_node < r->nnodes)
        code_fields(L, r);
    lua_setfield(L, -2, "code");
}

/* ---- ENVELOPE (RFC 9051 section 7.5.2) ------------------------------ */

static const char *const addr_fields[] = {"name", "adl", "mailbox", "host"};

/* Array of { name, adl, mailbox, host }; NIL parts absent, so group
 * markers keep their RFC shape (start: no host; end: no mailbox). */
static void push_addresses(lua_State *L, const struct isf_response *r,
                           size_t list)
{
    struct cur c = cur_open(r, list), in;
    size_t a, f;
    lua_Integer k = 0;
    int m;

    lua_createtable(L, hint(r, list), 0);
    while ((a = cur_take(r, &c)) != NONE) {
        if (!is_type(r, a, ISF_NODE_LIST))
            continue;
        in = cur_open(r, a);
        lua_createtable(L, 0, 4);
        for (m = 0; m < 4 && (f = cur_take(r, &in)) != NONE; m++)
            set_str(L, r, f, addr_fields[m]);
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
    struct cur c = cur_open(r, list);
    size_t f;
    int m, n = 0;

    for (m = 0; m < 10 && (f = cur_take(r, &c)) != NONE; m++)
        n += !is_type(r, f, ISF_NODE_NIL);
    c = cur_open(r, list);
    lua_createtable(L, 0, n);
    for (m = 0; m < 10 && (f = cur_take(r, &c)) != NONE; m++) {
        if (m < 2 || m > 7) {
            set_str(L, r, f, env_fields[m]);
        } else if (is_type(r, f, ISF_NODE_LIST)) {
            push_addresses(L, r, f);
            lua_setfield(L, -2, env_fields[m]);
        }
    }
}

/* ---- BODYSTRUCTURE (RFC 9051 section 7.5.2, "body" in section 9) ------ */

/* t.params = { name (lower case) = value }; empty when NIL. */
static void set_params(lua_State *L, const struct isf_response *r, size_t i)
{
    struct cur c = cur_open(r, i);
    size_t k, v;

    lua_createtable(L, 0, is_type(r, i, ISF_NODE_LIST) ? hint(r, i) / 2 : 0);
    while ((k = cur_take(r, &c)) != NONE && (v = cur_take(r, &c)) != NONE) {
        if (!strlike(r, k) || !strlike(r, v))
            continue;
        push_node_case(L, r, k, 0);
        push_bytes(L, r, v);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "params");
}

/* disposition, language, location and further extension data, shared by
 * single parts (after md5) and multiparts (after params). */
static void body_ext(lua_State *L, const struct isf_response *r, struct cur *c,
                     int depth)
{
    size_t d = cur_take(r, c), g = cur_take(r, c);

    if (is_type(r, d, ISF_NODE_LIST)) {
        struct cur in = cur_open(r, d);

        lua_createtable(L, 0, 2);
        set_lower(L, r, cur_take(r, &in), "type");
        set_params(L, r, cur_take(r, &in));
        lua_setfield(L, -2, "disposition");
    }
    if (strlike(r, g)) {
        lua_createtable(L, 1, 0);
        push_bytes(L, r, g);
        lua_rawseti(L, -2, 1);
        lua_setfield(L, -2, "language");
    } else if (is_type(r, g, ISF_NODE_LIST)) {
        set_strings(L, r, g, "language");
    }
    set_str(L, r, cur_take(r, c), "location");
    if (cur_peek(c) != NONE) {
        push_generic_rest(L, r, *c, 1, depth + 1);
        lua_setfield(L, -2, "extension");
    }
}

static void push_body(lua_State *L, const struct isf_response *r, size_t list,
                      int depth);

static void push_multipart(lua_State *L, const struct isf_response *r,
                           struct cur c, int depth)
{
    lua_Integer k = 0;

    lua_createtable(L, 0, 8);
    lua_pushliteral(L, "multipart");
    lua_setfield(L, -2, "type");
    lua_createtable(L, 2, 0);
    while (is_type(r, cur_peek(&c), ISF_NODE_LIST)) {
        push_body(L, r, cur_take(r, &c), depth + 1);
        lua_rawseti(L, -2, ++k);
    }
    lua_setfield(L, -2, "parts");
    set_lower(L, r, cur_take(r, &c), "subtype");
    set_params(L, r, cur_take(r, &c));
    body_ext(L, r, &c, depth);
}

/* message/rfc822 (and message/global) carry envelope, body and lines when
 * the server sent them as lists; otherwise the part is read as basic. */
static void body_message(lua_State *L, const struct isf_response *r,
                         struct cur *c, int depth)
{
    struct cur d = *c;
    size_t env = cur_take(r, &d), sub = cur_take(r, &d);

    if (!is_type(r, env, ISF_NODE_LIST) || !is_type(r, sub, ISF_NODE_LIST))
        return;
    *c = d;
    push_envelope(L, r, env);
    lua_setfield(L, -2, "envelope");
    push_body(L, r, sub, depth + 1);
    lua_setfield(L, -2, "body");
    set_int(L, r, cur_take(r, c), "lines");
}

static void push_onepart(lua_State *L, const struct isf_response *r,
                         struct cur c, int depth)
{
    size_t type = cur_take(r, &c), sub = cur_take(r, &c);

    lua_createtable(L, 0, 12);
    set_lower(L, r, type, "type");
    set_lower(L, r, sub, "subtype");
    set_params(L, r, cur_take(r, &c));
    set_str(L, r, cur_take(r, &c), "id");
    set_str(L, r, cur_take(r, &c), "description");
    set_str(L, r, cur_take(r, &c), "encoding");
    set_int(L, r, cur_take(r, &c), "size");
    if (node_is(r, type, "TEXT"))
        set_int(L, r, cur_take(r, &c), "lines");
    else if (node_is(r, type, "MESSAGE") &&
             (node_is(r, sub, "RFC822") || node_is(r, sub, "GLOBAL")))
        body_message(L, r, &c, depth);
    set_str(L, r, cur_take(r, &c), "md5");
    body_ext(L, r, &c, depth);
}

/* Multipart when the first item is itself a body (a list). */
static void push_body(lua_State *L, const struct isf_response *r, size_t list,
                      int depth)
{
    struct cur c = cur_open(r, list);

    if (depth >= MAX_NEST)
        lua_pushboolean(L, 0);
    else if (is_type(r, cur_peek(&c), ISF_NODE_LIST))
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
static const struct word fetch_words[] = {
    W("UID", FA_UID),
    W("FLAGS", FA_FLAGS),
    W("RFC822.SIZE", FA_SIZE),
    W("INTERNALDATE", FA_INTERNALDATE),
    W("ENVELOPE", FA_ENVELOPE),
    W("BODY", FA_BODY),
    W("MODSEQ", FA_MODSEQ),
    W("BODYSTRUCTURE", FA_BODYSTRUCTURE),
    W("BINARY", FA_BINARY),
    W("BINARY.SIZE", FA_BINARY_SIZE),
    W("RFC822", FA_RFC822),
    W("RFC822.HEADER", FA_RFC822_HEADER),
    W("RFC822.TEXT", FA_RFC822_TEXT),
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

    if (!strlike(f->r, v) && !is_type(f->r, v, ISF_NODE_NIL))
        return 0;
    t = fetch_sub(f, which);
    lua_pushlstring(f->L, key, klen);
    if (strlike(f->r, v))
        push_bytes(f->L, f->r, v);
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
        lua_pushlstring(f->L, sec, a->sec_len);
        lua_pushinteger(f->L, (lua_Integer)a->origin);
        lua_rawset(f->L, t);
    }
    return 1;
}

/* RFC822 is the same as BODY[], kept under both names. */
static int fetch_rfc822(struct fetch *f, size_t v)
{
    if (!put_bytes(f, FS_BODY, "", 0, v))
        return 0;
    if (strlike(f->r, v))
        push_bytes(f->L, f->r, v);
    else
        lua_pushboolean(f->L, 0);
    lua_setfield(f->L, f->t, "rfc822");
    return 1;
}

/* Pushes the value of a section-less attribute and returns its field
 * name, or returns NULL (pushing nothing) when v has the wrong type. */
static const char *fetch_plain(struct fetch *f, int id, size_t v)
{
    lua_State *L = f->L;
    const struct isf_response *r = f->r;
    struct cur c = cur_open(r, v);
    int list = is_type(r, v, ISF_NODE_LIST);
    int num = is_type(r, v, ISF_NODE_NUMBER);

    if (id == FA_FLAGS && list)
        push_strings(L, r, c, 0);
    else if (id == FA_INTERNALDATE && strlike(r, v))
        push_bytes(L, r, v);
    else if ((id == FA_SIZE || id == FA_UID) && num)
        lua_pushinteger(L, (lua_Integer)r->nodes[v].num);
    else if (id == FA_MODSEQ && is_type(r, cur_peek(&c), ISF_NODE_NUMBER))
        lua_pushinteger(L, (lua_Integer)r->nodes[cur_peek(&c)].num);
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
        if (!is_type(f->r, v, ISF_NODE_NUMBER))
            return 0;
        t = fetch_sub(f, FS_BINSIZE);
        lua_pushlstring(f->L, a->s + a->sec_off, a->sec_len);
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

    push_case(f->L, a->s, a->len, a->base, 1);
    push_generic(f->L, f->r, v, 1);
    lua_rawset(f->L, t);
}

static void fetch_one(struct fetch *f, size_t name, size_t v)
{
    const struct isf_node *n = &f->r->nodes[name];
    struct attr a;
    int id;

    if (!strlike(f->r, name))
        return; /* a list or NIL where a name belongs: nothing to key on */
    split_attr(f->r->bytes + n->off, n->len, &a);
    id = a.ok ? word_id(fetch_words, a.s, a.base) : 0;
    if (id == 0 || !fetch_known(f, id, &a, v))
        fetch_ext(f, &a, v);
}

static void push_fetch(lua_State *L, const struct isf_response *r, size_t seq,
                       size_t list)
{
    struct fetch f = {L, r, 0, {0}};
    struct cur c = cur_open(r, list);
    size_t name, v;

    lua_createtable(L, 0, 3 + hint(r, list) / 2);
    f.t = lua_gettop(L);
    lua_pushliteral(L, "untagged");
    lua_setfield(L, f.t, "kind");
    lua_pushliteral(L, "FETCH");
    lua_setfield(L, f.t, "type");
    lua_pushinteger(L, (lua_Integer)r->nodes[seq].num);
    lua_setfield(L, f.t, "seq");
    while ((name = cur_take(r, &c)) != NONE && (v = cur_take(r, &c)) != NONE)
        fetch_one(&f, name, v);
    lua_settop(L, f.t);
}

/* ---- untagged data (RFC 9051 section 7.2 to 7.4) --------------------- */

enum {
    D_EXISTS = 1,
    D_RECENT,
    D_EXPUNGE,
    D_FETCH,
    D_CAPABILITY,
    D_ENABLED,
    D_FLAGS,
    D_LIST,
    D_LSUB,
    D_SEARCH,
    D_SORT,
    D_ESEARCH,
    D_STATUS,
    D_NAMESPACE,
    D_ID
};

static const struct word data_words[] = {
    W("FETCH", D_FETCH),
    W("EXISTS", D_EXISTS),
    W("EXPUNGE", D_EXPUNGE),
    W("RECENT", D_RECENT),
    W("FLAGS", D_FLAGS),
    W("SEARCH", D_SEARCH),
    W("ESEARCH", D_ESEARCH),
    W("LIST", D_LIST),
    W("LSUB", D_LSUB),
    W("STATUS", D_STATUS),
    W("CAPABILITY", D_CAPABILITY),
    W("ENABLED", D_ENABLED),
    W("SORT", D_SORT),
    W("NAMESPACE", D_NAMESPACE),
    W("ID", D_ID),
    {NULL, 0, 0},
};

static const struct word *word_find(const struct word *w,
                                    const struct isf_response *r, size_t i)
{
    const struct isf_node *n = &r->nodes[i];

    for (; w->s != NULL; w++)
        if (same_ci(r->bytes + n->off, n->len, w))
            return w;
    return NULL;
}

/* Array size hint for the cursor's remaining items. */
static int rest_hint(const struct cur *c)
{
    size_t n = c->end - c->i;

    return n > 65536 ? 65536 : (int)n;
}

static void list_fields(lua_State *L, const struct isf_response *r,
                        struct cur c)
{
    set_strings(L, r, cur_take(r, &c), "flags");
    set_str(L, r, cur_take(r, &c), "delimiter");
    set_str(L, r, cur_take(r, &c), "name");
    if (cur_peek(&c) != NONE) {
        push_generic_rest(L, r, c, 1, 1);
        lua_setfield(L, -2, "ext");
    }
}

/* nums, and modseq from a trailing "(MODSEQ n)" (RFC 7162). */
static void search_fields(lua_State *L, const struct isf_response *r,
                          struct cur c)
{
    size_t j, m;
    lua_Integer k = 0;

    lua_createtable(L, rest_hint(&c), 0);
    while ((j = cur_take(r, &c)) != NONE) {
        struct cur in = cur_open(r, j);

        if (is_type(r, j, ISF_NODE_NUMBER)) {
            lua_pushinteger(L, (lua_Integer)r->nodes[j].num);
            lua_rawseti(L, -2, ++k);
        } else if (node_is(r, cur_take(r, &in), "MODSEQ") &&
                   is_type(r, m = cur_take(r, &in), ISF_NODE_NUMBER)) {
            lua_pushinteger(L, (lua_Integer)r->nodes[m].num);
            lua_setfield(L, -3, "modseq");
        }
    }
    lua_setfield(L, -2, "nums");
}

/* t.ext[NAME] = generic v, for data the shapes do not name. */
static void ext_put(lua_State *L, const struct isf_response *r, size_t k,
                    size_t v)
{
    if (lua_getfield(L, -1, "ext") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "ext");
    }
    push_node_case(L, r, k, 1);
    push_generic(L, r, v, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static const struct word esearch_words[] = {
    W("MIN", 1),    W("MAX", 2), W("COUNT", 3),
    W("MODSEQ", 4), W("ALL", 5), {NULL, 0, 0},
};

static const char *const esearch_keys[] = {NULL,    "min",    "max",
                                           "count", "modseq", "all"};

static void esearch_item(lua_State *L, const struct isf_response *r, size_t k,
                         size_t v)
{
    const struct word *w;

    if (!strlike(r, k))
        return;
    w = word_find(esearch_words, r, k);
    if (w != NULL && w->id == 5 && strlike(r, v))
        set_str(L, r, v, "all");
    else if (w != NULL && w->id < 5 && is_type(r, v, ISF_NODE_NUMBER))
        set_int(L, r, v, esearch_keys[w->id]);
    else
        ext_put(L, r, k, v);
}

/* RFC 4731: [(TAG "A1")] [UID] *(name value). */
static void esearch_fields(lua_State *L, const struct isf_response *r,
                           struct cur c)
{
    size_t k, v;

    if (is_type(r, cur_peek(&c), ISF_NODE_LIST)) {
        struct cur in = cur_open(r, cur_take(r, &c));

        if (node_is(r, cur_take(r, &in), "TAG"))
            set_str(L, r, cur_take(r, &in), "tag");
    }
    if (is_type(r, cur_peek(&c), ISF_NODE_ATOM) &&
        node_is(r, cur_peek(&c), "UID")) {
        cur_take(r, &c);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "uid");
    }
    while ((k = cur_take(r, &c)) != NONE && (v = cur_take(r, &c)) != NONE)
        esearch_item(L, r, k, v);
}

static void status_fields(lua_State *L, const struct isf_response *r,
                          struct cur c)
{
    size_t name = cur_take(r, &c), list = cur_take(r, &c), k, v;
    struct cur in = cur_open(r, list);

    set_str(L, r, name, "name");
    lua_createtable(L, 0, rest_hint(&in) / 2);
    while ((k = cur_take(r, &in)) != NONE && (v = cur_take(r, &in)) != NONE) {
        if (!strlike(r, k) || !is_type(r, v, ISF_NODE_NUMBER))
            continue;
        push_node_case(L, r, k, 0);
        lua_pushinteger(L, (lua_Integer)r->nodes[v].num);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "items");
}

/* One namespace list: array of { prefix, delimiter [, ext] }, where ext
 * holds RFC 2342 extensions as name -> generic value. */
static void push_namespaces(lua_State *L, const struct isf_response *r,
                            size_t list)
{
    struct cur c = cur_open(r, list), in;
    size_t d, k, v;
    lua_Integer n = 0;

    lua_createtable(L, rest_hint(&c), 0);
    while ((d = cur_take(r, &c)) != NONE) {
        in = cur_open(r, d);
        if (!strlike(r, cur_peek(&in)))
            continue;
        lua_createtable(L, 0, 2);
        set_str(L, r, cur_take(r, &in), "prefix");
        set_str(L, r, cur_take(r, &in), "delimiter");
        while ((k = cur_take(r, &in)) != NONE && (v = cur_take(r, &in)) != NONE)
            if (strlike(r, k))
                ext_put(L, r, k, v);
        lua_rawseti(L, -2, ++n);
    }
}

static void namespace_fields(lua_State *L, const struct isf_response *r,
                             struct cur c)
{
    static const char *const names[] = {"personal", "other", "shared"};
    int m;

    for (m = 0; m < 3; m++) {
        push_namespaces(L, r, cur_take(r, &c));
        lua_setfield(L, -2, names[m]);
    }
}

/* RFC 2971: params = { name = value }, a NIL value -> false. */
static void id_fields(lua_State *L, const struct isf_response *r, struct cur c)
{
    struct cur in = cur_open(r, cur_take(r, &c));
    size_t k, v;

    lua_createtable(L, 0, rest_hint(&in) / 2);
    while ((k = cur_take(r, &in)) != NONE && (v = cur_take(r, &in)) != NONE) {
        if (!strlike(r, k))
            continue;
        push_bytes(L, r, k);
        push_generic(L, r, v, 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "params");
}

/* The fields of a data response without a leading number. */
static void data_fields(lua_State *L, const struct isf_response *r, int id,
                        struct cur c)
{
    switch (id) {
    case D_CAPABILITY:
    case D_ENABLED:
        push_strings(L, r, c, 0);
        lua_setfield(L, -2, "caps");
        break;
    case D_FLAGS:
        set_strings(L, r, cur_take(r, &c), "flags");
        break;
    case D_LIST:
    case D_LSUB:
        list_fields(L, r, c);
        break;
    case D_SEARCH:
    case D_SORT:
        search_fields(L, r, c);
        break;
    case D_ESEARCH:
        esearch_fields(L, r, c);
        break;
    case D_STATUS:
        status_fields(L, r, c);
        break;
    case D_NAMESPACE:
        namespace_fields(L, r, c);
        break;
    default:
        id_fields(L, r, c);
    }
}

static void begin(lua_State *L, const char *kind, const char *type, int n)
{
    lua_createtable(L, 0, n + 2);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
}

/* Pushes a known data response and returns 1, or returns 0 (pushing
 * nothing) when its shape calls for the generic form. num is the leading
 * number or NONE; c is at the first item after the keyword. */
static int data_known(lua_State *L, const struct isf_response *r,
                      const struct word *w, size_t num, struct cur c)
{
    if (w->id == D_FETCH) {
        if (num == NONE || !is_type(r, cur_peek(&c), ISF_NODE_LIST))
            return 0;
        push_fetch(L, r, num, cur_peek(&c));
        return 1;
    }
    /* EXISTS, RECENT and EXPUNGE (the first ids) need the number; the
     * other keywords must not have one. */
    if ((num != NONE) != (w->id <= D_EXPUNGE))
        return 0;
    begin(L, "untagged", w->s, 4);
    if (num != NONE)
        set_int(L, r, num, "n");
    else
        data_fields(L, r, w->id, c);
    return 1;
}

/* { type, n, args }: the form of every response the shapes do not name.
 * kw is the keyword, or NONE, or the first argument when not an atom. */
static void push_other(lua_State *L, const struct isf_response *r, size_t num,
                       size_t kw, struct cur c)
{
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "untagged");
    lua_setfield(L, -2, "kind");
    if (is_type(r, kw, ISF_NODE_ATOM))
        push_node_case(L, r, kw, 1);
    else
        lua_pushliteral(L, "");
    lua_setfield(L, -2, "type");
    set_int(L, r, num, "n");
    if (kw != NONE && !is_type(r, kw, ISF_NODE_ATOM))
        c.i = kw;
    push_generic_rest(L, r, c, rest_hint(&c), 1);
    lua_setfield(L, -2, "args");
}

static void push_data(lua_State *L, const struct isf_response *r)
{
    struct cur c = cur_open(r, 0);
    size_t num = cur_take(r, &c), kw = num;
    const struct word *w = NULL;

    if (is_type(r, num, ISF_NODE_NUMBER))
        kw = cur_take(r, &c);
    else
        num = NONE;
    if (is_type(r, kw, ISF_NODE_ATOM))
        w = word_find(data_words, r, kw);
    if (w == NULL || !data_known(L, r, w, num, c))
        push_other(L, r, num, kw, c);
}

/* ---- status responses and continuations ------------------------------ */

static const char *status_name(enum isf_status st)
{
    switch (st) {
    case ISF_ST_OK:
        return "OK";
    case ISF_ST_NO:
        return "NO";
    case ISF_ST_BAD:
        return "BAD";
    case ISF_ST_PREAUTH:
        return "PREAUTH";
    case ISF_ST_BYE:
        return "BYE";
    default:
        return NULL;
    }
}

static void push_status(lua_State *L, const struct isf_response *r)
{
    const char *st = status_name(r->status);

    lua_createtable(L, 0, 5);
    if (r->kind == ISF_RESP_TAGGED) {
        lua_pushliteral(L, "tagged");
        lua_setfield(L, -2, "kind");
        lua_pushlstring(L, r->bytes + r->tag_off, r->tag_len);
        lua_setfield(L, -2, "tag");
    } else {
        lua_pushliteral(L, "untagged");
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, st);
        lua_setfield(L, -2, "type");
    }
    lua_pushstring(L, st);
    lua_setfield(L, -2, "status");
    set_code(L, r);
    lua_pushlstring(L, r->bytes + r->text_off, r->text_len);
    lua_setfield(L, -2, "text");
}

static void push_continue(lua_State *L, const struct isf_response *r)
{
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "continue");
    lua_setfield(L, -2, "kind");
    set_code(L, r);
    lua_pushlstring(L, r->bytes + r->text_off, r->text_len);
    lua_setfield(L, -2, "text");
}

void isf_push_response(lua_State *L, const struct isf_response *r)
{
    luaL_checkstack(L, STACK_NEED, "converting a response");
    if (r->kind == ISF_RESP_CONTINUE)
        push_continue(L, r);
    else if (r->kind == ISF_RESP_TAGGED || r->status != ISF_ST_NONE)
        push_status(L, r);
    else if (r->nnodes == 0)
        begin(L, "untagged", "", 0);
    else
        push_data(L, r);
}

/* ---- limits ---------------------------------------------------------- */

static const char *const limit_names[] = {
    "max_line", "max_literal", "max_response", "max_depth", "max_nodes"};

static void limit_set(struct isf_limits *l, int m, lua_Integer v)
{
    size_t z = (uint64_t)v > SIZE_MAX ? SIZE_MAX : (size_t)v;

    switch (m) {
    case 0:
        l->max_line = z;
        break;
    case 1:
        l->max_literal = z;
        break;
    case 2:
        l->max_response = z;
        break;
    case 3:
        l->max_depth = z > UINT_MAX ? UINT_MAX : (unsigned)z;
        break;
    default:
        l->max_nodes = z;
    }
}

void isf_lua_check_limits(lua_State *L, int idx, struct isf_limits *l)
{
    int m, ok;
    lua_Integer v;

    isf_limits_default(l);
    if (lua_isnoneornil(L, idx))
        return;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    for (m = 0; m < 5; m++) {
        int t = lua_getfield(L, idx, limit_names[m]);

        v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (t == LUA_TNIL)
            continue;
        if (t != LUA_TNUMBER || !ok || v < 1)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "'%s' must be an integer >= 1",
                                          limit_names[m]));
        limit_set(l, m, v);
    }
}

/* ---- the Parser userdata --------------------------------------------- */

enum { P_OPEN, P_FAILED, P_CLOSED };

/* A failed parser is freed at once but remembers its error, so feeding
 * it again raises the same error rather than "closed". */
struct lparser {
    struct isf_parser *p; /* NULL unless P_OPEN */
    int state;
    struct isf_error err;
};

static void lparser_close(struct lparser *u, int state)
{
    if (u->p != NULL)
        isf_parser_free(u->p);
    u->p = NULL;
    u->state = state;
}

/* The metatable is set before the parser exists, so __gc frees it even
 * if a later step raises. */
static struct lparser *new_lparser(lua_State *L, const struct isf_limits *l)
{
    struct lparser *u = lua_newuserdatauv(L, sizeof *u, 0);

    u->p = NULL;
    u->state = P_CLOSED;
    isf_error_clear(&u->err);
    luaL_setmetatable(L, PARSER_MT);
    u->p = isf_parser_new(l);
    if (u->p == NULL) {
        isf_error_set(&u->err, ISF_ENOMEM, "cannot allocate a parser");
        isf_lua_push_error(L, &u->err);
        lua_error(L);
    }
    u->state = P_OPEN;
    return u;
}

static struct lparser *check_lparser(lua_State *L)
{
    struct lparser *u = luaL_checkudata(L, 1, PARSER_MT);

    if (u->state == P_CLOSED)
        luaL_error(L, "parser is closed");
    return u;
}

/* Appends to the array at index out every response data completes.
 * Returns 0 or a negative code, with the parser then freed and u->err
 * set. A response left unreleased by a memory error raised while it was
 * being converted is dropped here, so the parser is always fed clean. */
static int feed_all(lua_State *L, struct lparser *u, const char *data,
                    size_t len, int out)
{
    lua_Integer k = (lua_Integer)lua_rawlen(L, out);
    size_t off = 0;
    int ready;
    long n;

    if (isf_parser_response(u->p) != NULL)
        isf_parser_release(u->p);
    while (off < len) {
        ready = 0;
        n = isf_parser_feed(u->p, data + off, len - off, &ready, &u->err);
        if (n == 0 && !ready)
            n = isf_error_set(&u->err, ISF_EPROTO, "parser made no progress");
        if (n < 0) {
            u->err.code = (int)n;
            lparser_close(u, P_FAILED);
            return (int)n;
        }
        off += (size_t)n;
        if (ready) {
            isf_push_response(L, isf_parser_response(u->p));
            lua_rawseti(L, out, ++k);
            isf_parser_release(u->p);
        }
    }
    return 0;
}

/* Pushes the parser's error with the responses completed before it. */
static void push_feed_error(lua_State *L, struct lparser *u, int out)
{
    isf_lua_push_error(L, &u->err);
    lua_pushvalue(L, out);
    lua_setfield(L, -2, "responses");
}

/* parser:feed(chunk) -> array of the responses completed by chunk. */
static int l_feed(lua_State *L)
{
    struct lparser *u = check_lparser(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);

    lua_settop(L, 2);
    lua_createtable(L, 1, 0); /* 3: the results */
    if (u->state == P_FAILED || feed_all(L, u, data, len, 3) < 0) {
        push_feed_error(L, u, 3);
        return lua_error(L);
    }
    return 1;
}

static int l_busy(lua_State *L)
{
    struct lparser *u = check_lparser(L);

    lua_pushboolean(L, u->p != NULL && isf_parser_busy(u->p));
    return 1;
}

/* One idempotent close for close(), __gc and __close. */
static int l_close(lua_State *L)
{
    lparser_close(luaL_checkudata(L, 1, PARSER_MT), P_CLOSED);
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct lparser *u = luaL_checkudata(L, 1, PARSER_MT);

    if (u->state == P_CLOSED)
        lua_pushliteral(L, "imapsift.Parser (closed)");
    else if (u->state == P_FAILED)
        lua_pushliteral(L, "imapsift.Parser (failed)");
    else
        lua_pushfstring(L, "imapsift.Parser (%p)", (void *)u);
    return 1;
}

/* core.parser([limits]) -> Parser */
static int l_parser(lua_State *L)
{
    struct isf_limits lim;

    isf_lua_check_limits(L, 1, &lim);
    new_lparser(L, &lim);
    return 1;
}

/* core.parse(bytes [, limits]) -> array of responses | nil, err. Bytes
 * that end inside a response are an error: the input is meant whole. */
static int l_parse(lua_State *L)
{
    struct isf_limits lim;
    struct lparser *u;
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    int rc;

    isf_lua_check_limits(L, 2, &lim);
    lua_settop(L, 2);
    u = new_lparser(L, &lim); /* 3 */
    lua_createtable(L, 1, 0); /* 4 */
    rc = feed_all(L, u, data, len, 4);
    if (rc == 0 && isf_parser_busy(u->p))
        rc = isf_error_set(&u->err, ISF_EPROTO, "input ends inside a response");
    lparser_close(u, rc < 0 ? P_FAILED : P_CLOSED);
    if (rc < 0)
        return isf_lua_fail(L, &u->err);
    return 1;
}

static void open_parser_mt(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", l_close},
                                    {"__close", l_close},
                                    {"__tostring", l_tostring},
                                    {NULL, NULL}};
    static const luaL_Reg methods[] = {
        {"feed", l_feed}, {"busy", l_busy}, {"close", l_close}, {NULL, NULL}};

    if (luaL_newmetatable(L, PARSER_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

void isf_lua_open_response(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"parse", l_parse}, {"parser", l_parser}, {NULL, NULL}};

    open_parser_mt(L);
    luaL_setfuncs(L, funcs, 0);
}
