/* lua_nodes.c: node tree helpers for the Lua glue (see lua_nodes.h). */
#include "lua_nodes.h"

#include <lauxlib.h>
#include <string.h>

/* ---- case-insensitive words, no allocation -------------------------- */

static char up(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static char low(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ASCII only, so a Turkish locale cannot change what "uid" matches. */
static int same_ci(const char *s, size_t n, const struct isf_word *w)
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
int isf_word_id(const struct isf_word *words, const char *s, size_t n)
{
    for (; words->s != NULL; words++)
        if (same_ci(s, n, words))
            return words->id;
    return 0;
}

int isf_node_is(const struct isf_response *r, size_t i, const char *w)
{
    struct isf_word x = {w, (unsigned char)strlen(w), 1};

    return isf_strlike(r, i) &&
           same_ci(r->bytes + r->nodes[i].off, r->nodes[i].len, &x);
}

/* Pushes s with its first `upto` bytes changed to upper (or lower) case. */
void isf_push_case(lua_State *L, const char *s, size_t n, size_t upto,
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

const struct isf_word *isf_word_find(const struct isf_word *w,
                                     const struct isf_response *r, size_t i)
{
    const struct isf_node *n = &r->nodes[i];

    for (; w->s != NULL; w++)
        if (same_ci(r->bytes + n->off, n->len, w))
            return w;
    return NULL;
}

/* ---- small setters on the table at the top of the stack -------------- */

void isf_push_node_case(lua_State *L, const struct isf_response *r, size_t i,
                        int upper)
{
    const struct isf_node *n = &r->nodes[i];

    isf_push_case(L, r->bytes + n->off, n->len, n->len, upper);
}

/* t[k] = the bytes of node i, if it has bytes (NIL and lists: absent). */
void isf_set_str(lua_State *L, const struct isf_response *r, size_t i,
                 const char *k)
{
    if (isf_strlike(r, i)) {
        isf_push_bytes(L, r, i);
        lua_setfield(L, -2, k);
    }
}

void isf_set_lower(lua_State *L, const struct isf_response *r, size_t i,
                   const char *k)
{
    if (isf_strlike(r, i)) {
        isf_push_node_case(L, r, i, 0);
        lua_setfield(L, -2, k);
    }
}

void isf_set_int(lua_State *L, const struct isf_response *r, size_t i,
                 const char *k)
{
    if (isf_is_type(r, i, ISF_NODE_NUMBER)) {
        lua_pushinteger(L, (lua_Integer)r->nodes[i].num);
        lua_setfield(L, -2, k);
    }
}

/* ---- generic values ------------------------------------------------- */

/* Pushes an array of the generic values of the cursor's remaining items. */
void isf_push_generic_rest(lua_State *L, const struct isf_response *r,
                           struct isf_cur c, int n, int depth)
{
    size_t j;
    lua_Integer k = 0;

    lua_createtable(L, n, 0);
    while ((j = isf_cur_take(r, &c)) != ISF_NONE) {
        isf_push_generic(L, r, j, depth);
        lua_rawseti(L, -2, ++k);
    }
}

/* ATOM and STRING -> string, NUMBER -> integer, NIL -> false, LIST ->
 * array; lists nested past ISF_MAX_NEST -> false. */
void isf_push_generic(lua_State *L, const struct isf_response *r, size_t i,
                      int depth)
{
    const struct isf_node *n = &r->nodes[i];

    switch (n->type) {
    case ISF_NODE_ATOM:
    case ISF_NODE_STRING:
        isf_push_bytes(L, r, i);
        break;
    case ISF_NODE_NUMBER:
        lua_pushinteger(L, (lua_Integer)n->num);
        break;
    case ISF_NODE_LIST:
        if (depth < ISF_MAX_NEST) {
            isf_push_generic_rest(L, r, isf_cur_open(r, i), isf_hint(r, i),
                                  depth + 1);
            break;
        }
        /* fall through */
    default:
        lua_pushboolean(L, 0);
    }
}

/* Pushes an array of the strings among the cursor's remaining items;
 * with flatten, the strings inside list items too (one level). */
void isf_push_strings(lua_State *L, const struct isf_response *r,
                      struct isf_cur c, int flatten)
{
    size_t j, m;
    lua_Integer k = 0;

    lua_createtable(L, (int)(c.end - c.i < 64 ? c.end - c.i : 64), 0);
    while ((j = isf_cur_take(r, &c)) != ISF_NONE) {
        if (isf_strlike(r, j)) {
            isf_push_bytes(L, r, j);
            lua_rawseti(L, -2, ++k);
        } else if (flatten && isf_is_type(r, j, ISF_NODE_LIST)) {
            struct isf_cur in = isf_cur_open(r, j);

            while ((m = isf_cur_take(r, &in)) != ISF_NONE)
                if (isf_strlike(r, m)) {
                    isf_push_bytes(L, r, m);
                    lua_rawseti(L, -2, ++k);
                }
        }
    }
}

/* t[k] = array of the strings of list i; an empty array if not a list. */
void isf_set_strings(lua_State *L, const struct isf_response *r, size_t i,
                     const char *k)
{
    isf_push_strings(L, r, isf_cur_open(r, i), 0);
    lua_setfield(L, -2, k);
}
