/* response_check.c: the rules of the response grammar that tokens alone do
 * not show (RFC 9051 section 9): "number" and "nz-number" are 32 bits
 * wherever the grammar names them (sequence numbers, UIDs, UIDVALIDITY,
 * counts, SEARCH results, sizes), mod-sequences are 63 bits (RFC 7162),
 * uid-set (RFC 4315) and sequence-set (RFC 4731 ALL) hold such numbers,
 * and "body" (BODYSTRUCTURE) has its fixed leading fields. */
#include "response_check.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define NONE ((size_t)-1)

/* Bodies nested deeper are refused whatever max_depth allows: this bounds
 * the recursion below. */
#define MAX_BODY_DEPTH 100

struct chk {
    const struct isf_response *r;
    char *why;
    size_t n;
};

/* The children of one list; the parser's trees are sound, so a child's
 * `end` is always past it and within its parent. */
struct cur {
    size_t i, end;
};

static struct cur children(const struct isf_response *r, size_t i)
{
    struct cur c = {0, 0};

    if (i != NONE && r->nodes[i].type == ISF_NODE_LIST) {
        c.i = i + 1;
        c.end = r->nodes[i].end;
    }
    return c;
}

static size_t take(const struct isf_response *r, struct cur *c)
{
    size_t j = c->i;

    if (j >= c->end)
        return NONE;
    c->i = r->nodes[j].end;
    return j;
}

static size_t peek(const struct cur *c)
{
    return c->i < c->end ? c->i : NONE;
}

static int is(const struct isf_response *r, size_t i, int type)
{
    return i != NONE && r->nodes[i].type == type;
}

/* ATOM, NUMBER and STRING: the nodes that carry bytes. */
static int strlike(const struct isf_response *r, size_t i)
{
    return i != NONE && r->nodes[i].type != ISF_NODE_LIST &&
           r->nodes[i].type != ISF_NODE_NIL;
}

/* Whether s[0..n) equals w (upper case) in any case; ASCII only. */
static int same(const char *s, size_t n, const char *w)
{
    size_t k;

    for (k = 0; k < n && w[k]; k++) {
        char c = s[k] >= 'a' && s[k] <= 'z' ? (char)(s[k] - 32) : s[k];
        if (c != w[k])
            return 0;
    }
    return k == n && w[k] == '\0';
}

static int word(const struct isf_response *r, size_t i, const char *w)
{
    return strlike(r, i) &&
           same(r->bytes + r->nodes[i].off, r->nodes[i].len, w);
}

/* Digits too many for the parser's 63-bit NUMBER stay an ATOM. */
static int digits(const struct isf_response *r, size_t i)
{
    size_t k;

    if (!is(r, i, ISF_NODE_ATOM) || r->nodes[i].len == 0)
        return 0;
    for (k = 0; k < r->nodes[i].len; k++)
        if (r->bytes[r->nodes[i].off + k] < '0' ||
            r->bytes[r->nodes[i].off + k] > '9')
            return 0;
    return 1;
}

static int fault(struct chk *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fault(struct chk *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why, c->n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- numbers and sets --------------------------------------------------- */

/* number, or nz-number when nz: 32 bits unsigned (RFC 9051 section 9). */
static int u32(struct chk *c, size_t i, int nz, const char *what)
{
    const struct isf_response *r = c->r;

    if (is(r, i, ISF_NODE_NUMBER) && r->nodes[i].num <= UINT32_MAX &&
        (r->nodes[i].num != 0 || !nz))
        return 0;
    if (i == NONE)
        return fault(c, "%s is missing", what);
    if (is(r, i, ISF_NODE_NUMBER) || digits(r, i))
        return fault(c, "%s is out of range (%s to 4294967295)", what,
                     nz ? "1" : "0");
    return fault(c, "%s is not a number", what);
}

/* A mod-sequence: the parser's NUMBER already stops at 63 bits. */
static int u63(struct chk *c, size_t i, const char *what)
{
    if (is(c->r, i, ISF_NODE_NUMBER))
        return 0;
    if (i == NONE)
        return fault(c, "%s is missing", what);
    if (digits(c->r, i))
        return fault(c, "%s is out of range (63 bits)", what);
    return fault(c, "%s is not a number", what);
}

/* Numbers of 1 to 4294967295 and ranges of them, joined by commas; "*"
 * too when star (sequence-set, else uid-set). */
static int set_ok(const char *s, size_t len, int star)
{
    size_t k = 0, d;
    int range = 0;
    uint64_t v;

    for (;;) {
        v = 0;
        d = 0;
        if (k < len && s[k] == '*' && star)
            k++, d = v = 1;
        for (; k < len && s[k] >= '0' && s[k] <= '9'; k++, d++)
            if ((v = v * 10 + (uint64_t)(s[k] - '0')) > UINT32_MAX)
                return 0;
        if (d == 0 || v == 0)
            return 0;
        if (k == len)
            return 1;
        if (s[k] == ':' && !range)
            range = 1;
        else if (s[k] == ',')
            range = 0;
        else
            return 0;
        k++;
    }
}

static int set(struct chk *c, size_t i, int star, const char *what)
{
    const struct isf_node *n = i == NONE ? NULL : &c->r->nodes[i];

    if (i == NONE)
        return fault(c, "%s is missing", what);
    if (!strlike(c->r, i) || !set_ok(c->r->bytes + n->off, n->len, star))
        return fault(c, "%s is not a set of numbers from 1 to 4294967295",
                     what);
    return 0;
}

/* ---- response codes (RFC 9051 section 7.1, RFC 4315, RFC 7162) ---------- */

static int code_args(struct chk *c, size_t name, struct cur k)
{
    const struct isf_response *r = c->r;
    size_t a = take(r, &k);

    if (word(r, name, "UIDNEXT") || word(r, name, "UIDVALIDITY") ||
        word(r, name, "UNSEEN"))
        return u32(c, a, 1, "the number of a response code");
    if (word(r, name, "HIGHESTMODSEQ"))
        return u63(c, a, "HIGHESTMODSEQ");
    if (word(r, name, "PERMANENTFLAGS") && !is(r, a, ISF_NODE_LIST))
        return fault(c, "PERMANENTFLAGS without a list of flags");
    if (word(r, name, "APPENDUID"))
        return u32(c, a, 1, "APPENDUID uidvalidity") ||
               set(c, take(r, &k), 0, "APPENDUID UIDs");
    if (word(r, name, "COPYUID"))
        return u32(c, a, 1, "COPYUID uidvalidity") ||
               set(c, take(r, &k), 0, "COPYUID source UIDs") ||
               set(c, take(r, &k), 0, "COPYUID destination UIDs");
    return 0;
}

static int check_code(struct chk *c)
{
    const struct isf_response *r = c->r;
    struct cur k;
    size_t name;

    if (!r->has_code || r->code_node >= r->nnodes)
        return 0;
    k = children(r, r->code_node);
    name = take(r, &k);
    if (!is(r, name, ISF_NODE_ATOM))
        return 0;
    /* A code cut back to its name by a limit has no arguments to check. */
    if (peek(&k) == NONE && r->code_len != r->nodes[name].len)
        return 0;
    return code_args(c, name, k);
}

/* ---- BODYSTRUCTURE ("body", RFC 9051 section 9) ------------------------ */

static int check_body(struct chk *c, size_t i, int depth);

static int nstring(const struct isf_response *r, size_t i)
{
    return strlike(r, i) || is(r, i, ISF_NODE_NIL);
}

/* body-fld-param: a list, or NIL. */
static int params(const struct isf_response *r, size_t i)
{
    return is(r, i, ISF_NODE_LIST) || is(r, i, ISF_NODE_NIL);
}

static int check_multipart(struct chk *c, struct cur k, int depth)
{
    const struct isf_response *r = c->r;
    size_t p;

    while (is(r, peek(&k), ISF_NODE_LIST))
        if (check_body(c, take(r, &k), depth + 1))
            return -1;
    if (!strlike(r, take(r, &k)))
        return fault(c, "multipart BODYSTRUCTURE without a subtype");
    p = take(r, &k);
    if (p != NONE && !params(r, p))
        return fault(c, "BODYSTRUCTURE parameters are not a list or NIL");
    return 0;
}

/* message/rfc822 and message/global: envelope, body and lines, when the
 * server sent them as lists (else the part reads as a basic one). */
static int check_message(struct chk *c, struct cur *k, int depth)
{
    const struct isf_response *r = c->r;
    struct cur d = *k;
    size_t env = take(r, &d), sub = take(r, &d);

    if (!is(r, env, ISF_NODE_LIST) || !is(r, sub, ISF_NODE_LIST))
        return 0;
    *k = d;
    if (check_body(c, sub, depth + 1))
        return -1;
    return u63(c, take(r, k), "BODYSTRUCTURE line count");
}

static int check_onepart(struct chk *c, struct cur k, int depth)
{
    const struct isf_response *r = c->r;
    size_t type = take(r, &k), sub = take(r, &k);

    if (!strlike(r, type) || !strlike(r, sub))
        return fault(c, "BODYSTRUCTURE part without a type and subtype");
    if (!params(r, take(r, &k)))
        return fault(c, "BODYSTRUCTURE parameters are not a list or NIL");
    if (!nstring(r, take(r, &k)) || !nstring(r, take(r, &k)) ||
        !nstring(r, take(r, &k)))
        return fault(c, "BODYSTRUCTURE id, description or encoding is "
                        "not a string");
    if (u32(c, take(r, &k), 0, "BODYSTRUCTURE size"))
        return -1;
    if (word(r, type, "TEXT"))
        return u63(c, take(r, &k), "BODYSTRUCTURE line count");
    if (word(r, type, "MESSAGE") &&
        (word(r, sub, "RFC822") || word(r, sub, "GLOBAL")))
        return check_message(c, &k, depth);
    return 0;
}

static int check_body(struct chk *c, size_t i, int depth)
{
    struct cur k = children(c->r, i);

    if (!is(c->r, i, ISF_NODE_LIST))
        return fault(c, "BODYSTRUCTURE part is not a list");
    if (depth > MAX_BODY_DEPTH)
        return fault(c, "BODYSTRUCTURE nested deeper than %d parts",
                     MAX_BODY_DEPTH);
    if (is(c->r, peek(&k), ISF_NODE_LIST))
        return check_multipart(c, k, depth);
    return check_onepart(c, k, depth);
}

/* ---- FETCH (RFC 9051 section 7.5.2, RFC 3516, RFC 7162) ---------------- */

/* BODY[section]<origin> and BINARY[section]: a string or NIL (a number
 * is an atom that looks like one), and the origin is a number. */
static int check_section(struct chk *c, const char *s, size_t len, size_t base,
                         size_t v)
{
    uint64_t o = 0;
    size_t k = len;

    if (!nstring(c->r, v) && !is(c->r, v, ISF_NODE_NUMBER))
        return fault(c, "FETCH section data is not a string or NIL");
    while (k > base && s[k - 1] != ']')
        k--;
    if (k + 2 < len && s[k] == '<' && s[len - 1] == '>')
        for (k++; k < len - 1 && s[k] >= '0' && s[k] <= '9'; k++)
            if ((o = o * 10 + (uint64_t)(s[k] - '0')) > UINT32_MAX)
                return fault(c, "FETCH section origin is out of range "
                                "(0 to 4294967295)");
    return 0;
}

static int check_plain(struct chk *c, size_t name, size_t v)
{
    const struct isf_response *r = c->r;

    if (word(r, name, "UID"))
        return u32(c, v, 1, "FETCH UID");
    if (word(r, name, "RFC822.SIZE"))
        return u32(c, v, 0, "FETCH RFC822.SIZE");
    if (word(r, name, "MODSEQ")) {
        struct cur in = children(r, v);
        if (!is(r, v, ISF_NODE_LIST))
            return fault(c, "FETCH MODSEQ is not a list");
        return u63(c, take(r, &in), "FETCH MODSEQ");
    }
    if ((word(r, name, "FLAGS") || word(r, name, "ENVELOPE")) &&
        !is(r, v, ISF_NODE_LIST))
        return fault(c, "FETCH FLAGS or ENVELOPE is not a list");
    if (word(r, name, "BODYSTRUCTURE") || word(r, name, "BODY"))
        return check_body(c, v, 1);
    return 0;
}

static int check_attr(struct chk *c, size_t name, size_t v)
{
    const struct isf_node *n = &c->r->nodes[name];
    const char *s = c->r->bytes + n->off;
    size_t base = 0;

    if (!strlike(c->r, name))
        return fault(c, "FETCH attribute name is not an atom");
    while (base < n->len && s[base] != '[')
        base++;
    if (base == n->len)
        return check_plain(c, name, v);
    if (same(s, base, "BINARY.SIZE"))
        return u32(c, v, 0, "FETCH BINARY.SIZE");
    if (same(s, base, "BODY") || same(s, base, "BINARY"))
        return check_section(c, s, n->len, base, v);
    return 0; /* an attribute this client does not know */
}

static int check_fetch(struct chk *c, size_t list)
{
    const struct isf_response *r = c->r;
    struct cur k = children(r, list);
    size_t name, v;

    if (!is(r, list, ISF_NODE_LIST))
        return fault(c, "FETCH without a list of attributes");
    while ((name = take(r, &k)) != NONE) {
        if ((v = take(r, &k)) == NONE)
            return fault(c, "FETCH attribute without a value");
        if (check_attr(c, name, v))
            return -1;
    }
    return 0;
}

/* ---- other data (RFC 9051 section 7, RFC 4731, RFC 5256) --------------- */

/* SEARCH and SORT: nz-numbers, then "(MODSEQ n)" last (RFC 7162). */
static int check_search(struct chk *c, struct cur k, const char *what)
{
    const struct isf_response *r = c->r;
    size_t j;

    while ((j = take(r, &k)) != NONE) {
        if (is(r, j, ISF_NODE_LIST) && peek(&k) == NONE) {
            struct cur in = children(r, j);
            if (!word(r, take(r, &in), "MODSEQ"))
                return fault(c, "%s ends in a list that is not (MODSEQ n)",
                             what);
            return u63(c, take(r, &in), "SEARCH MODSEQ");
        }
        if (u32(c, j, 1, what))
            return -1;
    }
    return 0;
}

static int esearch_item(struct chk *c, size_t name, size_t v)
{
    const struct isf_response *r = c->r;

    if (word(r, name, "MIN") || word(r, name, "MAX"))
        return u32(c, v, 1, "ESEARCH MIN or MAX");
    if (word(r, name, "COUNT"))
        return u32(c, v, 0, "ESEARCH COUNT");
    if (word(r, name, "ALL"))
        return set(c, v, 1, "ESEARCH ALL");
    if (word(r, name, "MODSEQ"))
        return u63(c, v, "ESEARCH MODSEQ");
    return 0;
}

/* RFC 4731: [(TAG "A1")] [UID] *(name value). */
static int check_esearch(struct chk *c, struct cur k)
{
    const struct isf_response *r = c->r;
    size_t name;

    if (is(r, peek(&k), ISF_NODE_LIST))
        take(r, &k);
    if (is(r, peek(&k), ISF_NODE_ATOM) && word(r, peek(&k), "UID"))
        take(r, &k);
    while ((name = take(r, &k)) != NONE)
        if (esearch_item(c, name, take(r, &k)))
            return -1;
    return 0;
}

static int status_item(struct chk *c, size_t name, size_t v)
{
    const struct isf_response *r = c->r;

    if (word(r, name, "MESSAGES") || word(r, name, "UNSEEN") ||
        word(r, name, "RECENT") || word(r, name, "DELETED"))
        return u32(c, v, 0, "a STATUS count");
    if (word(r, name, "UIDNEXT") || word(r, name, "UIDVALIDITY"))
        return u32(c, v, 1, "STATUS UIDNEXT or UIDVALIDITY");
    if (word(r, name, "HIGHESTMODSEQ"))
        return u63(c, v, "STATUS HIGHESTMODSEQ");
    return 0;
}

static int check_status_data(struct chk *c, struct cur k)
{
    const struct isf_response *r = c->r;
    size_t list, name;
    struct cur in;

    take(r, &k); /* the mailbox name */
    list = take(r, &k);
    if (!is(r, list, ISF_NODE_LIST))
        return fault(c, "STATUS without a list of items");
    in = children(r, list);
    while ((name = take(r, &in)) != NONE)
        if (status_item(c, name, take(r, &in)))
            return -1;
    return 0;
}

/* "* n KEYWORD ...": n is a count or a sequence number. */
static int check_numbered(struct chk *c, size_t n, size_t kw, struct cur k)
{
    const struct isf_response *r = c->r;

    if (word(r, kw, "EXISTS") || word(r, kw, "RECENT"))
        return u32(c, n, 0, "an EXISTS or RECENT count");
    if (word(r, kw, "EXPUNGE"))
        return u32(c, n, 1, "an EXPUNGE sequence number");
    if (word(r, kw, "FETCH"))
        return u32(c, n, 1, "a FETCH sequence number") ||
               check_fetch(c, take(r, &k));
    return 0;
}

static int check_data(struct chk *c)
{
    const struct isf_response *r = c->r;
    struct cur k = children(r, 0);
    size_t first = take(r, &k), kw = first;

    if (is(r, first, ISF_NODE_NUMBER) || digits(r, first))
        return check_numbered(c, first, take(r, &k), k);
    if (!is(r, kw, ISF_NODE_ATOM))
        return 0;
    if (word(r, kw, "SEARCH"))
        return check_search(c, k, "a SEARCH result");
    if (word(r, kw, "SORT"))
        return check_search(c, k, "a SORT result");
    if (word(r, kw, "ESEARCH"))
        return check_esearch(c, k);
    if (word(r, kw, "STATUS"))
        return check_status_data(c, k);
    return 0;
}

int isf_response_check(const struct isf_response *r, char *why, size_t n)
{
    struct chk c = {r, why, n};

    if (r->nnodes == 0)
        return 0;
    if (r->kind == ISF_RESP_UNTAGGED && r->status == ISF_ST_NONE)
        return check_data(&c);
    return check_code(&c);
}
