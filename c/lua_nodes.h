/* lua_nodes.h: walking parsed IMAP data (RFC 9051 section 4) in the glue.
 *
 * The node tree comes from the parser, but its shape comes from the
 * server: every walk goes through a cursor clamped to its parent's
 * subtree, so wrong types or lying counts skip a field instead of reading
 * out of bounds. This is the hot path of every FETCH, so field names are
 * compared in place and Lua strings are made only for values; the cursor
 * helpers are inline for the same reason. */
#ifndef ISF_LUA_NODES_H
#define ISF_LUA_NODES_H

#include <lua.h>
#include <stddef.h>

#include "parser.h"

/* "No node": what a cursor returns when exhausted. */
#define ISF_NONE ((size_t)-1)
/* Lists nested deeper than this become false: it bounds C recursion and
 * the Lua stack whatever max_depth the user chose. */
#define ISF_MAX_NEST 128

/* ---- walking the node tree ------------------------------------------ */

/* The children of one list, in order; i == end when exhausted. */
struct isf_cur {
    size_t i, end;
};

/* The end of node i's subtree, clamped to lim when it lies. */
static inline size_t isf_clamp_end(const struct isf_response *r, size_t i,
                                   size_t lim)
{
    size_t e = r->nodes[i].end;

    return (e <= i || e > lim) ? lim : e;
}

/* A cursor over list's children; empty if list is not a LIST. */
static inline struct isf_cur isf_cur_open(const struct isf_response *r,
                                          size_t list)
{
    struct isf_cur c = {0, 0};

    if (list < r->nnodes && r->nodes[list].type == ISF_NODE_LIST) {
        c.i = list + 1;
        c.end = isf_clamp_end(r, list, r->nnodes);
    }
    return c;
}

/* The next child's index, or ISF_NONE. Always advances by at least one. */
static inline size_t isf_cur_take(const struct isf_response *r,
                                  struct isf_cur *c)
{
    size_t j = c->i;

    if (j >= c->end)
        return ISF_NONE;
    c->i = isf_clamp_end(r, j, c->end);
    return j;
}

/* The next child's index without taking it, or ISF_NONE. */
static inline size_t isf_cur_peek(const struct isf_cur *c)
{
    return c->i < c->end ? c->i : ISF_NONE;
}

/* Node i, or NULL for ISF_NONE. */
static inline const struct isf_node *isf_node_at(const struct isf_response *r,
                                                 size_t i)
{
    return i == ISF_NONE ? NULL : &r->nodes[i];
}

/* Whether node i exists and has the given ISF_NODE_* type. */
static inline int isf_is_type(const struct isf_response *r, size_t i, int type)
{
    return i != ISF_NONE && r->nodes[i].type == type;
}

/* ATOM, NUMBER and STRING all carry bytes a Lua string can hold. */
static inline int isf_strlike(const struct isf_response *r, size_t i)
{
    return i != ISF_NONE && r->nodes[i].type != ISF_NODE_LIST &&
           r->nodes[i].type != ISF_NODE_NIL;
}

/* A size hint for lua_createtable that no lying count can inflate. */
static inline int isf_hint(const struct isf_response *r, size_t list)
{
    const struct isf_node *n = &r->nodes[list];
    size_t most = isf_clamp_end(r, list, r->nnodes) - list - 1;
    size_t h = n->count < most ? n->count : most;

    return h > 4096 ? 4096 : (int)h;
}

/* ---- case-insensitive words, no allocation -------------------------- */

struct isf_word {
    const char *s; /* upper case */
    unsigned char len;
    unsigned char id;
};

/* clang-format off */
#define ISF_W(s, id) {s, sizeof s - 1, id}
/* clang-format on */

/* The id of s in words (ended by a NULL s), or 0. */
int isf_word_id(const struct isf_word *words, const char *s, size_t n);

/* The entry of w (ended by a NULL s) matching node i's bytes, or NULL. */
const struct isf_word *isf_word_find(const struct isf_word *w,
                                     const struct isf_response *r, size_t i);

/* Whether node i has bytes equal to w (upper case) in any case. */
int isf_node_is(const struct isf_response *r, size_t i, const char *w);

/* Pushes s with its first `upto` bytes changed to upper (or lower) case. */
void isf_push_case(lua_State *L, const char *s, size_t n, size_t upto,
                   int upper);

/* ---- small setters on the table at the top of the stack -------------- */

/* Pushes the bytes of node i, which must have bytes (isf_strlike). */
static inline void isf_push_bytes(lua_State *L, const struct isf_response *r,
                                  size_t i)
{
    lua_pushlstring(L, r->bytes + r->nodes[i].off, r->nodes[i].len);
}

/* Pushes the bytes of node i in upper (or lower) case. */
void isf_push_node_case(lua_State *L, const struct isf_response *r, size_t i,
                        int upper);

/* t[k] = the bytes of node i, if it has bytes (NIL and lists: absent). */
void isf_set_str(lua_State *L, const struct isf_response *r, size_t i,
                 const char *k);

/* t[k] = the bytes of node i in lower case, if it has bytes. */
void isf_set_lower(lua_State *L, const struct isf_response *r, size_t i,
                   const char *k);

/* t[k] = the value of node i, if it is a NUMBER. */
void isf_set_int(lua_State *L, const struct isf_response *r, size_t i,
                 const char *k);

/* ---- generic values ------------------------------------------------- */

/* Pushes node i as a generic value; lists past ISF_MAX_NEST -> false. */
void isf_push_generic(lua_State *L, const struct isf_response *r, size_t i,
                      int depth);

/* Pushes an array of the generic values of the cursor's remaining items. */
void isf_push_generic_rest(lua_State *L, const struct isf_response *r,
                           struct isf_cur c, int n, int depth);

/* Array of the strings left in c; flatten: also those one list down. */
void isf_push_strings(lua_State *L, const struct isf_response *r,
                      struct isf_cur c, int flatten);

/* t[k] = array of the strings of list i; an empty array if not a list. */
void isf_set_strings(lua_State *L, const struct isf_response *r, size_t i,
                     const char *k);

#endif
