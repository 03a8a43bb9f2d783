/* lua_response.c: IMAP responses as Lua tables (RFC 9051 section 7).
 *
 * Response codes, untagged data, status responses and continuations (RFC
 * 3501 and RFC 9051 sections 7.1 to 7.4; RFC 4731 ESEARCH, RFC 7162
 * MODSEQ, RFC 2342 NAMESPACE, RFC 2971 ID, RFC 5161 ENABLED). FETCH data
 * is in lua_fetch.c, the Parser userdata in lua_parser.c. */
#include "lua_response.h"

#include <lauxlib.h>

#include "lua_fetch.h"
#include "lua_nodes.h"

#define STACK_NEED (4 * ISF_MAX_NEST + 32)

/* ---- response codes (RFC 9051 section 7.1) --------------------------- */

enum { C_OTHER, C_INT, C_STRINGS, C_APPENDUID, C_COPYUID };

static const struct isf_word code_words[] = {
    ISF_W("UIDNEXT", C_INT),
    ISF_W("UIDVALIDITY", C_INT),
    ISF_W("UNSEEN", C_INT),
    ISF_W("HIGHESTMODSEQ", C_INT),
    ISF_W("APPENDLIMIT", C_INT),
    ISF_W("PERMANENTFLAGS", C_STRINGS),
    ISF_W("BADCHARSET", C_STRINGS),
    ISF_W("CAPABILITY", C_STRINGS),
    ISF_W("APPENDUID", C_APPENDUID),
    ISF_W("COPYUID", C_COPYUID),
    {NULL, 0, 0},
};

/* Sets value from the arguments after the code name. */
static void code_value(lua_State *L, const struct isf_response *r, int kind,
                       struct isf_cur c)
{
    size_t a = isf_cur_take(r, &c);

    if (kind == C_INT) {
        isf_set_int(L, r, a, "value");
        return;
    }
    if (kind == C_STRINGS) {
        c.i = a == ISF_NONE ? c.end : a;
        isf_push_strings(L, r, c, 1);
        lua_setfield(L, -2, "value");
        return;
    }
    if (kind != C_APPENDUID && kind != C_COPYUID)
        return;
    lua_createtable(L, 0, 3);
    isf_set_int(L, r, a, "uidvalidity");
    isf_set_str(L, r, isf_cur_take(r, &c),
                kind == C_APPENDUID ? "uids" : "source");
    if (kind == C_COPYUID)
        isf_set_str(L, r, isf_cur_take(r, &c), "dest");
    lua_setfield(L, -2, "value");
}

/* name, value and args from the code's nodes (name first). */
static void code_fields(lua_State *L, const struct isf_response *r)
{
    struct isf_cur c = isf_cur_open(r, r->code_node);
    size_t name = isf_cur_take(r, &c);
    const struct isf_node *n = isf_node_at(r, name);
    int kind;

    if (!isf_strlike(r, name))
        return;
    kind = isf_word_id(code_words, r->bytes + n->off, n->len);
    isf_push_node_case(L, r, name, 1);
    lua_setfield(L, -2, "name");
    code_value(L, r, kind, c);
    if (isf_cur_peek(&c) != ISF_NONE) {
        isf_push_generic_rest(L, r, c, 2, 1);
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

static const struct isf_word data_words[] = {
    ISF_W("FETCH", D_FETCH),
    ISF_W("EXISTS", D_EXISTS),
    ISF_W("EXPUNGE", D_EXPUNGE),
    ISF_W("RECENT", D_RECENT),
    ISF_W("FLAGS", D_FLAGS),
    ISF_W("SEARCH", D_SEARCH),
    ISF_W("ESEARCH", D_ESEARCH),
    ISF_W("LIST", D_LIST),
    ISF_W("LSUB", D_LSUB),
    ISF_W("STATUS", D_STATUS),
    ISF_W("CAPABILITY", D_CAPABILITY),
    ISF_W("ENABLED", D_ENABLED),
    ISF_W("SORT", D_SORT),
    ISF_W("NAMESPACE", D_NAMESPACE),
    ISF_W("ID", D_ID),
    {NULL, 0, 0},
};

/* Array size hint for the cursor's remaining items. */
static int rest_hint(const struct isf_cur *c)
{
    size_t n = c->end - c->i;

    return n > 65536 ? 65536 : (int)n;
}

static void list_fields(lua_State *L, const struct isf_response *r,
                        struct isf_cur c)
{
    isf_set_strings(L, r, isf_cur_take(r, &c), "flags");
    isf_set_str(L, r, isf_cur_take(r, &c), "delimiter");
    isf_set_str(L, r, isf_cur_take(r, &c), "name");
    if (isf_cur_peek(&c) != ISF_NONE) {
        isf_push_generic_rest(L, r, c, 1, 1);
        lua_setfield(L, -2, "ext");
    }
}

/* nums, and modseq from a trailing "(MODSEQ n)" (RFC 7162). */
static void search_fields(lua_State *L, const struct isf_response *r,
                          struct isf_cur c)
{
    size_t j, m;
    lua_Integer k = 0;

    lua_createtable(L, rest_hint(&c), 0);
    while ((j = isf_cur_take(r, &c)) != ISF_NONE) {
        struct isf_cur in = isf_cur_open(r, j);

        if (isf_is_type(r, j, ISF_NODE_NUMBER)) {
            lua_pushinteger(L, (lua_Integer)r->nodes[j].num);
            lua_rawseti(L, -2, ++k);
        } else if (isf_node_is(r, isf_cur_take(r, &in), "MODSEQ") &&
                   isf_is_type(r, m = isf_cur_take(r, &in), ISF_NODE_NUMBER)) {
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
    isf_push_node_case(L, r, k, 1);
    isf_push_generic(L, r, v, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static const struct isf_word esearch_words[] = {
    ISF_W("MIN", 1),    ISF_W("MAX", 2), ISF_W("COUNT", 3),
    ISF_W("MODSEQ", 4), ISF_W("ALL", 5), {NULL, 0, 0},
};

static const char *const esearch_keys[] = {NULL,    "min",    "max",
                                           "count", "modseq", "all"};

static void esearch_item(lua_State *L, const struct isf_response *r, size_t k,
                         size_t v)
{
    const struct isf_word *w;

    if (!isf_strlike(r, k))
        return;
    w = isf_word_find(esearch_words, r, k);
    if (w != NULL && w->id == 5 && isf_strlike(r, v))
        isf_set_str(L, r, v, "all");
    else if (w != NULL && w->id < 5 && isf_is_type(r, v, ISF_NODE_NUMBER))
        isf_set_int(L, r, v, esearch_keys[w->id]);
    else
        ext_put(L, r, k, v);
}

/* RFC 4731: [(TAG "A1")] [UID] *(name value). */
static void esearch_fields(lua_State *L, const struct isf_response *r,
                           struct isf_cur c)
{
    size_t k, v;

    if (isf_is_type(r, isf_cur_peek(&c), ISF_NODE_LIST)) {
        struct isf_cur in = isf_cur_open(r, isf_cur_take(r, &c));

        if (isf_node_is(r, isf_cur_take(r, &in), "TAG"))
            isf_set_str(L, r, isf_cur_take(r, &in), "tag");
    }
    if (isf_is_type(r, isf_cur_peek(&c), ISF_NODE_ATOM) &&
        isf_node_is(r, isf_cur_peek(&c), "UID")) {
        isf_cur_take(r, &c);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "uid");
    }
    while ((k = isf_cur_take(r, &c)) != ISF_NONE &&
           (v = isf_cur_take(r, &c)) != ISF_NONE)
        esearch_item(L, r, k, v);
}

static void status_fields(lua_State *L, const struct isf_response *r,
                          struct isf_cur c)
{
    size_t name = isf_cur_take(r, &c), list = isf_cur_take(r, &c), k, v;
    struct isf_cur in = isf_cur_open(r, list);

    isf_set_str(L, r, name, "name");
    lua_createtable(L, 0, rest_hint(&in) / 2);
    while ((k = isf_cur_take(r, &in)) != ISF_NONE &&
           (v = isf_cur_take(r, &in)) != ISF_NONE) {
        if (!isf_strlike(r, k) || !isf_is_type(r, v, ISF_NODE_NUMBER))
            continue;
        isf_push_node_case(L, r, k, 0);
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
    struct isf_cur c = isf_cur_open(r, list), in;
    size_t d, k, v;
    lua_Integer n = 0;

    lua_createtable(L, rest_hint(&c), 0);
    while ((d = isf_cur_take(r, &c)) != ISF_NONE) {
        in = isf_cur_open(r, d);
        if (!isf_strlike(r, isf_cur_peek(&in)))
            continue;
        lua_createtable(L, 0, 2);
        isf_set_str(L, r, isf_cur_take(r, &in), "prefix");
        isf_set_str(L, r, isf_cur_take(r, &in), "delimiter");
        while ((k = isf_cur_take(r, &in)) != ISF_NONE &&
               (v = isf_cur_take(r, &in)) != ISF_NONE)
            if (isf_strlike(r, k))
                ext_put(L, r, k, v);
        lua_rawseti(L, -2, ++n);
    }
}

static void namespace_fields(lua_State *L, const struct isf_response *r,
                             struct isf_cur c)
{
    static const char *const names[] = {"personal", "other", "shared"};
    int m;

    for (m = 0; m < 3; m++) {
        push_namespaces(L, r, isf_cur_take(r, &c));
        lua_setfield(L, -2, names[m]);
    }
}

/* RFC 2971: params = { name = value }, a NIL value -> false. */
static void id_fields(lua_State *L, const struct isf_response *r,
                      struct isf_cur c)
{
    struct isf_cur in = isf_cur_open(r, isf_cur_take(r, &c));
    size_t k, v;

    lua_createtable(L, 0, rest_hint(&in) / 2);
    while ((k = isf_cur_take(r, &in)) != ISF_NONE &&
           (v = isf_cur_take(r, &in)) != ISF_NONE) {
        if (!isf_strlike(r, k))
            continue;
        isf_push_bytes(L, r, k);
        isf_push_generic(L, r, v, 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "params");
}

/* The fields of a data response without a leading number. */
static void data_fields(lua_State *L, const struct isf_response *r, int id,
                        struct isf_cur c)
{
    switch (id) {
    case D_CAPABILITY:
    case D_ENABLED:
        isf_push_strings(L, r, c, 0);
        lua_setfield(L, -2, "caps");
        break;
    case D_FLAGS:
        isf_set_strings(L, r, isf_cur_take(r, &c), "flags");
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
 * number or ISF_NONE; c is at the first item after the keyword. */
static int data_known(lua_State *L, const struct isf_response *r,
                      const struct isf_word *w, size_t num, struct isf_cur c)
{
    if (w->id == D_FETCH) {
        if (num == ISF_NONE || !isf_is_type(r, isf_cur_peek(&c), ISF_NODE_LIST))
            return 0;
        isf_push_fetch(L, r, num, isf_cur_peek(&c));
        return 1;
    }
    /* EXISTS, RECENT and EXPUNGE (the first ids) need the number; the
     * other keywords must not have one. */
    if ((num != ISF_NONE) != (w->id <= D_EXPUNGE))
        return 0;
    begin(L, "untagged", w->s, 4);
    if (num != ISF_NONE)
        isf_set_int(L, r, num, "n");
    else
        data_fields(L, r, w->id, c);
    return 1;
}

/* { type, n, args }: the form of every response the shapes do not name.
 * kw is the keyword, or ISF_NONE, or the first argument when not an atom. */
static void push_other(lua_State *L, const struct isf_response *r, size_t num,
                       size_t kw, struct isf_cur c)
{
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "untagged");
    lua_setfield(L, -2, "kind");
    if (isf_is_type(r, kw, ISF_NODE_ATOM))
        isf_push_node_case(L, r, kw, 1);
    else
        lua_pushliteral(L, "");
    lua_setfield(L, -2, "type");
    isf_set_int(L, r, num, "n");
    if (kw != ISF_NONE && !isf_is_type(r, kw, ISF_NODE_ATOM))
        c.i = kw;
    isf_push_generic_rest(L, r, c, rest_hint(&c), 1);
    lua_setfield(L, -2, "args");
}

static void push_data(lua_State *L, const struct isf_response *r)
{
    struct isf_cur c = isf_cur_open(r, 0);
    size_t num = isf_cur_take(r, &c), kw = num;
    const struct isf_word *w = NULL;

    if (isf_is_type(r, num, ISF_NODE_NUMBER))
        kw = isf_cur_take(r, &c);
    else
        num = ISF_NONE;
    if (isf_is_type(r, kw, ISF_NODE_ATOM))
        w = isf_word_find(data_words, r, kw);
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

/* ---- malformed responses --------------------------------------------- */

/* The keyword of an untagged data response (after its number, if any), in
 * upper case, or "". */
static void push_keyword(lua_State *L, const struct isf_response *r)
{
    struct isf_cur c = isf_cur_open(r, 0);
    size_t kw = isf_cur_take(r, &c);

    if (isf_is_type(r, kw, ISF_NODE_NUMBER))
        kw = isf_cur_take(r, &c);
    if (isf_is_type(r, kw, ISF_NODE_ATOM))
        isf_push_node_case(L, r, kw, 1);
    else
        lua_pushliteral(L, "");
}

/* { kind, tag, status, type, malformed }: only what the parser could tell
 * before the fault; the rest of such a response is not to be trusted. */
static void push_malformed(lua_State *L, const struct isf_response *r)
{
    const char *st = status_name(r->status);

    lua_createtable(L, 0, 6);
    lua_pushstring(L, r->kind == ISF_RESP_TAGGED     ? "tagged"
                      : r->kind == ISF_RESP_CONTINUE ? "continue"
                                                     : "untagged");
    lua_setfield(L, -2, "kind");
    if (r->kind == ISF_RESP_TAGGED) {
        lua_pushlstring(L, r->bytes + r->tag_off, r->tag_len);
        lua_setfield(L, -2, "tag");
    }
    if (st != NULL) {
        lua_pushstring(L, st);
        lua_setfield(L, -2, "status");
    }
    if (r->kind == ISF_RESP_UNTAGGED) {
        if (st != NULL)
            lua_pushstring(L, st);
        else
            push_keyword(L, r);
        lua_setfield(L, -2, "type");
    }
    lua_pushstring(L, r->malformed);
    lua_setfield(L, -2, "malformed");
}

void isf_push_response(lua_State *L, const struct isf_response *r)
{
    luaL_checkstack(L, STACK_NEED, "converting a response");
    if (r->malformed != NULL)
        push_malformed(L, r);
    else if (r->kind == ISF_RESP_CONTINUE)
        push_continue(L, r);
    else if (r->kind == ISF_RESP_TAGGED || r->status != ISF_ST_NONE)
        push_status(L, r);
    else if (r->nnodes == 0)
        begin(L, "untagged", "", 0);
    else
        push_data(L, r);
    if (r->partial) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "partial");
    }
}
