/* parser.c: the incremental IMAP response parser (RFC 3501 section 9,
 * RFC 9051 section 9): a byte-at-a-time state machine over the lines and
 * bulk copies for literals, building the flat node tree of parser.h. */
#include "parser.h"
#include "buf.h"
#include "response_check.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the machine stands; every state survives the end of a chunk. */
enum pstate {
    PS_START,   /* before the first byte of a response */
    PS_TAG,     /* in the tag */
    PS_TAG_SP,  /* after the tag or "*": a space must follow */
    PS_BETWEEN, /* between tokens of a data response */
    PS_AFTER,   /* right after a string or ")": space, paren or EOL */
    PS_ATOM,    /* in an atom */
    PS_BR,      /* in the [...] part of an atom */
    PS_BR_Q,    /* in a quoted string inside that part */
    PS_BR_QE,   /* after a backslash there */
    PS_QUOTED,  /* in a quoted string */
    PS_QESC,    /* after a backslash in a quoted string */
    PS_TILDE,   /* "~" at a token start: literal8 or an atom */
    PS_LNUM,    /* in the {digits} of a literal */
    PS_LCR,     /* after "}": CRLF or LF must follow */
    PS_LLF,     /* after "}" CR: LF must follow */
    PS_LDATA,   /* in a literal's bytes */
    PS_CR,      /* after the CR that ends the response */
    PS_ST_SP,   /* after a status word or "+": a code may follow */
    PS_CODE,    /* in the raw text of a response code */
    PS_CODE_Q,  /* in a quoted string inside a response code */
    PS_CODE_QE, /* after a backslash there */
    PS_SKIP,    /* after a content error: skipping to the end of line */
    PS_TEXT_SP, /* after a response code: spaces before the text */
    PS_TEXT,    /* in the text */
    PS_DONE,    /* a response is ready */
    PS_ERROR    /* the stream is out of sync for good */
};

/* States whose bytes are copied into storage as spans of the chunk. */
static const unsigned char collecting[] = {
    [PS_TAG] = 1,     [PS_ATOM] = 1,   [PS_BR] = 1,    [PS_BR_Q] = 1,
    [PS_BR_QE] = 1,   [PS_QUOTED] = 1, [PS_CODE] = 1,  [PS_CODE_Q] = 1,
    [PS_CODE_QE] = 1, [PS_TEXT] = 1,   [PS_ERROR] = 0,
};

/* Step results besides 0 (byte consumed) and negative codes. */
enum { AGAIN = 1, DONE = 2 };

/* Storage above these sizes is given back when a response is released, so
 * one huge literal does not pin its memory for the whole session. */
#define KEEP_BYTES ((size_t)4 << 20)
#define KEEP_NODES ((size_t)64 << 10)

/* A SEARCH or SORT line is cut into pieces of about this many bytes (or
 * half of max_line if that is less), so a million UIDs on one line need
 * neither a huge max_line nor megabytes held at once. */
#define SEARCH_PIECE ((size_t)64 << 10)

/* How far the end of a skipped line looks like a literal announcement
 * "{digits}" or "{digits+}" (also the tail of "~{digits}"). */
enum { LT_NONE, LT_OPEN, LT_DIGITS, LT_PLUS, LT_CLOSED };

struct isf_parser {
    struct isf_limits lim;
    enum pstate state;
    struct isf_buf bytes;    /* token bytes of the current response */
    struct isf_node *nodes;  /* pre-order node array */
    size_t nnodes, ncap;
    uint32_t *stack;         /* open lists; stack[0] is the tree root */
    size_t sdepth, scap;     /* index of the innermost open list in stack */
    size_t cur;              /* node being filled */
    const char *in;          /* the chunk being fed (only during a feed) */
    size_t span;             /* start in `in` of bytes not yet stored */
    size_t resp_len;         /* wire bytes of this response so far */
    size_t line_len;         /* wire bytes of this line so far */
    uint64_t lit_n;          /* announced literal size (saturating) */
    size_t lit_rem;          /* literal bytes still to come */
    int lit8, lit_digits;
    unsigned br_depth;       /* nesting of [...] inside an atom */
    size_t code_depth;       /* open '(' in the raw text of a code */
    int skip_lit;            /* LT_*: the tail of a skipped line */
    int searching;           /* an untagged SEARCH or SORT: may be cut */
    size_t top;              /* the root's latest child */
    size_t piece;            /* line bytes after which SEARCH is cut */
    int root_closed;
    struct isf_response resp;
    char why[160];           /* the reason of resp.malformed */
    struct isf_error err;    /* the sticky error */
};

static int fail(struct isf_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct isf_parser *p, int code, const char *fmt, ...)
{
    va_list ap;

    p->err.code = code;
    va_start(ap, fmt);
    vsnprintf(p->err.msg, sizeof p->err.msg, fmt, ap);
    va_end(ap);
    p->state = PS_ERROR;
    return code;
}

/* A content error: the line is still framed by its CRLF, so the rest of
 * it is skipped and the response delivered with `malformed` set (unless
 * the line turns out to end in a literal announcement). The first fault
 * of a response is the one reported. Returns AGAIN so that the byte at
 * hand is looked at again by the skipping state. */
static int bad(struct isf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad(struct isf_parser *p, const char *fmt, ...)
{
    va_list ap;

    if (p->resp.malformed == NULL) {
        va_start(ap, fmt);
        vsnprintf(p->why, sizeof p->why, fmt, ap);
        va_end(ap);
        p->resp.malformed = p->why;
    }
    p->state = PS_SKIP;
    p->skip_lit = LT_NONE;
    return AGAIN;
}

static int lit_track(int st, unsigned char c)
{
    if (c == '{')
        return LT_OPEN;
    if (c >= '0' && c <= '9')
        return st == LT_OPEN || st == LT_DIGITS ? LT_DIGITS : LT_NONE;
    if (c == '+')
        return st == LT_DIGITS ? LT_PLUS : LT_NONE;
    if (c == '}')
        return st == LT_DIGITS || st == LT_PLUS ? LT_CLOSED : LT_NONE;
    return LT_NONE;
}

static int fail_nomem(struct isf_parser *p)
{
    return fail(p, ISF_ENOMEM, "out of memory parsing a response at offset "
                "%zu", p->resp_len);
}

void isf_limits_default(struct isf_limits *l)
{
    l->max_line = (size_t)1 << 20;
    l->max_literal = (size_t)1 << 30;
    l->max_response = (size_t)2 << 30;
    l->max_depth = 64;
    l->max_nodes = (size_t)16 << 20;
}

struct isf_parser *isf_parser_new(const struct isf_limits *limits)
{
    struct isf_parser *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    if (limits)
        p->lim = *limits;
    else
        isf_limits_default(&p->lim);
    /* Node indices are 32-bit; one node is always needed for the root. */
    if (p->lim.max_nodes > UINT32_MAX - 1)
        p->lim.max_nodes = UINT32_MAX - 1;
    p->scap = 16;
    p->stack = malloc(p->scap * sizeof *p->stack);
    if (p->stack == NULL) {
        free(p);
        return NULL;
    }
    isf_buf_init(&p->bytes, (size_t)-1);
    p->piece = p->lim.max_line / 2 < SEARCH_PIECE ? p->lim.max_line / 2
                                                   : SEARCH_PIECE;
    p->state = PS_START;
    return p;
}

void isf_parser_free(struct isf_parser *p)
{
    if (p == NULL)
        return;
    isf_buf_free(&p->bytes);
    free(p->nodes);
    free(p->stack);
    free(p);
}

size_t isf_parser_memory(const struct isf_parser *p)
{
    return sizeof *p + p->bytes.cap + (p->bytes.data ? 1 : 0) +
           p->ncap * sizeof *p->nodes + p->scap * sizeof *p->stack;
}

/* ---- storage ------------------------------------------------------------ */

/* Store the chunk's bytes from the span start up to i (excluded). */
static int flush(struct isf_parser *p, size_t i)
{
    if (i > p->span &&
        isf_buf_append(&p->bytes, p->in + p->span, i - p->span) != 0)
        return fail_nomem(p);
    p->span = i;
    return 0;
}

/* A content error found at the end of the line inside a token (a quoted
 * string, a bracket, a response code) whose bytes, stored from `from`,
 * may end in what looks like a literal announcement: the skipping state
 * must know that before it takes the CR or LF. */
static int bad_eol(struct isf_parser *p, size_t i, size_t from,
                   const char *what)
{
    int rc = flush(p, i), st = LT_NONE;
    size_t k;

    if (rc)
        return rc;
    for (k = from; k < p->bytes.len; k++)
        st = lit_track(st, (unsigned char)p->bytes.data[k]);
    rc = bad(p, "%s at offset %zu", what, p->resp_len);
    p->skip_lit = st;
    return rc;
}

/* A new node at the end of the array, no parent bookkeeping. Returns 0,
 * ISF_ELIMIT or ISF_ENOMEM without touching the sticky error. */
static int node_alloc(struct isf_parser *p, int type, int flags, size_t *idx)
{
    struct isf_node *n;

    if (p->nnodes >= p->lim.max_nodes)
        return ISF_ELIMIT;
    if (p->nnodes == p->ncap) {
        size_t cap = p->ncap ? p->ncap * 2 : 64;
        if (cap > p->lim.max_nodes)
            cap = p->lim.max_nodes;
        n = realloc(p->nodes, cap * sizeof *n);
        if (n == NULL)
            return ISF_ENOMEM;
        p->nodes = n;
        p->ncap = cap;
    }
    n = &p->nodes[p->nnodes];
    n->type = (uint8_t)type;
    n->flags = (uint8_t)flags;
    n->count = 0;
    n->end = (uint32_t)(p->nnodes + 1);
    n->off = p->bytes.len;
    n->len = 0;
    n->num = 0;
    *idx = p->nnodes++;
    return 0;
}

static int node_fail(struct isf_parser *p, int rc)
{
    if (rc == ISF_ENOMEM)
        return fail_nomem(p);
    return fail(p, ISF_ELIMIT, "response has more than max_nodes (%zu) "
                "nodes at offset %zu", p->lim.max_nodes, p->resp_len);
}

/* A node appended as the last child of the innermost open list. */
static int add_child(struct isf_parser *p, int type, int flags)
{
    int rc;

    if (p->resp.kind == ISF_RESP_TAGGED && p->resp.status == ISF_ST_NONE &&
        type != ISF_NODE_ATOM)
        return bad(p, "tagged response does not start with OK, NO or BAD "
                   "(offset %zu)", p->resp_len);
    rc = node_alloc(p, type, flags, &p->cur);
    if (rc)
        return node_fail(p, rc);
    p->nodes[p->stack[p->sdepth]].count++;
    if (p->sdepth == 0)
        p->top = p->cur;
    return 0;
}

static int push(struct isf_parser *p, size_t idx)
{
    if (p->sdepth + 1 >= p->scap) {
        size_t cap = p->scap ? p->scap * 2 : 16;
        uint32_t *s = realloc(p->stack, cap * sizeof *s);
        if (s == NULL)
            return ISF_ENOMEM;
        p->stack = s;
        p->scap = cap;
    }
    p->stack[++p->sdepth] = (uint32_t)idx;
    return 0;
}

static int open_list(struct isf_parser *p)
{
    int rc;

    if (p->sdepth >= p->lim.max_depth)
        return fail(p, ISF_ELIMIT, "lists nested deeper than max_depth (%u) "
                    "at offset %zu", p->lim.max_depth, p->resp_len);
    rc = add_child(p, ISF_NODE_LIST, 0);
    if (rc == 0 && push(p, p->cur) != 0)
        rc = fail_nomem(p);
    return rc;
}

static int close_list(struct isf_parser *p)
{
    if (p->sdepth == 0)
        return bad(p, "')' without '(' at offset %zu", p->resp_len);
    p->nodes[p->stack[p->sdepth]].end = (uint32_t)p->nnodes;
    p->sdepth--;
    return 0;
}

static void close_root(struct isf_parser *p)
{
    if (!p->root_closed) {
        p->nodes[0].end = (uint32_t)p->nnodes;
        p->root_closed = 1;
    }
}

/* ---- tokens ------------------------------------------------------------- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int word_is(const char *s, size_t n, const char *w)
{
    size_t i;

    for (i = 0; i < n && w[i]; i++)
        if (lower((unsigned char)s[i]) != w[i])
            return 0;
    return i == n && w[i] == '\0';
}

/* Turns an ATOM made of digits into a NUMBER (63 bits at most) and "NIL"
 * into NIL; the bytes stay as they came. */
static void classify(struct isf_node *n, const char *s)
{
    uint64_t v = 0;
    size_t i;

    if (word_is(s, n->len, "nil")) {
        n->type = ISF_NODE_NIL;
        return;
    }
    for (i = 0; i < n->len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
            return;
        v = v * 10 + d;
    }
    if (n->len) {
        n->type = ISF_NODE_NUMBER;
        n->num = v;
    }
}

static const char *const status_words[] = {
    [ISF_ST_OK] = "ok", [ISF_ST_NO] = "no", [ISF_ST_BAD] = "bad",
    [ISF_ST_PREAUTH] = "preauth", [ISF_ST_BYE] = "bye",
};

/* The first item decides: a status word makes the rest of the line a
 * response code and text; a tagged response must have one. */
static int check_status(struct isf_parser *p)
{
    const struct isf_node *n = &p->nodes[1];
    const char *s = p->bytes.data + n->off;
    int st;

    /* A tagged response can only be OK, NO or BAD (RFC 9051 7.1). */
    int last = p->resp.kind == ISF_RESP_TAGGED ? ISF_ST_BAD : ISF_ST_BYE;

    for (st = ISF_ST_OK; st <= last; st++) {
        if (n->type == ISF_NODE_ATOM &&
            word_is(s, n->len, status_words[st])) {
            p->resp.status = (enum isf_status)st;
            p->state = PS_ST_SP;
            return 0;
        }
    }
    if (p->resp.kind == ISF_RESP_TAGGED)
        return bad(p, "tagged response does not start with OK, NO or BAD "
                   "(offset %zu)", p->resp_len);
    /* Only these data responses can be long enough to need cutting. */
    p->searching = p->resp.kind == ISF_RESP_UNTAGGED &&
                   n->type == ISF_NODE_ATOM &&
                   (word_is(s, n->len, "search") ||
                    word_is(s, n->len, "sort"));
    return 0;
}

static int finish_atom(struct isf_parser *p)
{
    struct isf_node *n = &p->nodes[p->cur];

    n->len = p->bytes.len - n->off;
    classify(n, p->bytes.data + n->off);
    if (p->cur == 1 && p->resp.kind != ISF_RESP_CONTINUE)
        return check_status(p);
    return 0;
}

static void finish_string(struct isf_parser *p)
{
    struct isf_node *n = &p->nodes[p->cur];

    n->len = p->bytes.len - n->off;
    p->state = PS_AFTER;
}

/* ---- response codes ----------------------------------------------------- */

/* The code's raw text is complete in storage, so it is tokenized there in
 * one pass. Its lists and quoted strings were already checked while it
 * arrived (st_code). Returns 0, ISF_ENOMEM, or another negative value when
 * a limit stops it (the caller then keeps just the name). */
static int code_add(struct isf_parser *p, int type, size_t off, size_t len)
{
    int rc = node_alloc(p, type, 0, &p->cur);

    if (rc)
        return rc;
    p->nodes[p->cur].off = off;
    p->nodes[p->cur].len = len;
    p->nodes[p->stack[p->sdepth]].count++;
    if (type == ISF_NODE_ATOM)
        classify(&p->nodes[p->cur], p->bytes.data + off);
    return 0;
}

static int code_quoted(struct isf_parser *p, size_t *pos, size_t end)
{
    size_t j = *pos + 1, n = 0, off;
    const char *s;
    char *d;
    int rc;

    for (; j < end && p->bytes.data[j] != '"'; j++, n++)
        if (p->bytes.data[j] == '\\' &&
            (++j == end || (p->bytes.data[j] != '"' &&
                            p->bytes.data[j] != '\\')))
            return ISF_EPROTO;
    if (j == end)
        return ISF_EPROTO;
    if (isf_buf_reserve(&p->bytes, n) != 0)
        return ISF_ENOMEM;
    /* No reallocation from here on: the reserve made room. */
    s = p->bytes.data + *pos + 1;
    off = p->bytes.len;
    d = p->bytes.data + off;
    for (; s < p->bytes.data + j; s++)
        *d++ = *s == '\\' ? *++s : *s;
    p->bytes.len += n;
    p->bytes.data[p->bytes.len] = '\0';
    rc = code_add(p, ISF_NODE_STRING, off, n);
    *pos = j + 1;
    return rc;
}

static int code_tokens(struct isf_parser *p)
{
    size_t k = p->resp.code_off, end = k + p->resp.code_len, j;
    size_t idx;
    int rc = 0;

    while (k < end && rc == 0) {
        char c = p->bytes.data[k];
        if (c == ' ') {
            k++;
        } else if (c == '(') {
            if (p->sdepth >= p->lim.max_depth)
                return ISF_ELIMIT;
            rc = code_add(p, ISF_NODE_LIST, k++, 0);
            idx = p->cur;
            if (rc == 0 && push(p, idx) != 0)
                rc = ISF_ENOMEM;
        } else if (c == ')') {
            if (p->sdepth == 0)
                return ISF_EPROTO;
            close_list(p);
            k++;
        } else if (c == '"') {
            rc = code_quoted(p, &k, end);
        } else {
            for (j = k; j < end && !strchr(" ()\"", p->bytes.data[j]); j++)
                ;
            rc = code_add(p, ISF_NODE_ATOM, k, j - k);
            k = j;
        }
    }
    if (rc == 0 && p->sdepth != 0)
        rc = ISF_EPROTO;
    return rc;
}

/* Builds the code LIST after the root's subtree. When the arguments are not
 * tokens, the LIST holds only the name (the raw text up to a space). */
static int code_nodes(struct isf_parser *p)
{
    struct isf_response *r = &p->resp;
    size_t idx, j;
    int rc;

    close_root(p);
    rc = node_alloc(p, ISF_NODE_LIST, 0, &idx);
    if (rc)
        return node_fail(p, rc);
    r->code_node = idx;
    p->nodes[idx].off = r->code_off;
    p->stack[0] = (uint32_t)idx;
    p->sdepth = 0;
    rc = code_tokens(p);
    if (rc == ISF_ENOMEM)
        return fail_nomem(p);
    if (rc || (p->nodes[idx].count && p->nodes[idx + 1].type !=
               ISF_NODE_ATOM)) {
        p->nnodes = idx + 1;
        p->nodes[idx].count = 0;
        p->sdepth = 0;
        for (j = 0; j < r->code_len &&
                    p->bytes.data[r->code_off + j] != ' '; j++)
            ;
        if (j && (rc = code_add(p, ISF_NODE_ATOM, r->code_off, j)) != 0)
            return node_fail(p, rc);
        if (j) /* the name stays an atom even if it looks like a number */
            p->nodes[p->cur].type = ISF_NODE_ATOM;
    }
    p->nodes[idx].end = (uint32_t)p->nnodes;
    return 0;
}

/* ---- the end of a response ---------------------------------------------- */

static int end_line(struct isf_parser *p)
{
    if (p->resp.status != ISF_ST_NONE || p->resp.kind == ISF_RESP_CONTINUE)
        return 0;
    if (p->sdepth != 0)
        return bad(p, "line ends with %zu list(s) still open at offset %zu",
                   p->sdepth, p->resp_len);
    if (p->resp.kind == ISF_RESP_TAGGED)
        return bad(p, "tagged response without a status at offset %zu",
                   p->resp_len);
    if (p->nodes[0].count == 0)
        return bad(p, "empty untagged response");
    return 0;
}

/* A malformed response keeps a valid tree of what came before the fault:
 * the lists still open end where the nodes end. */
static void close_open_lists(struct isf_parser *p)
{
    for (; p->sdepth > 0; p->sdepth--)
        p->nodes[p->stack[p->sdepth]].end = (uint32_t)p->nnodes;
}

static int complete(struct isf_parser *p)
{
    struct isf_response *r = &p->resp;

    if (r->malformed != NULL)
        close_open_lists(p);
    close_root(p);
    r->bytes = p->bytes.data ? p->bytes.data : "";
    r->nodes = p->nodes;
    r->nnodes = p->nnodes;
    if (r->malformed == NULL &&
        isf_response_check(r, p->why, sizeof p->why) != 0)
        r->malformed = p->why;
    p->state = PS_DONE;
    return DONE;
}

/* A SEARCH or SORT line past its piece size goes out as a partial
 * response at a space after a number; isf_parser_release() then carries
 * on with the same line. */
static int cut_search(struct isf_parser *p)
{
    if (!p->searching || p->sdepth != 0 || p->line_len < p->piece ||
        p->resp.malformed != NULL || p->top < 2 || p->top != p->cur ||
        p->nodes[p->top].type != ISF_NODE_NUMBER)
        return 0;
    p->resp.partial = 1;
    return complete(p);
}

/* CR or LF outside a literal: the response ends here (a lone LF too). */
static int eol(struct isf_parser *p, unsigned char c)
{
    int rc = end_line(p);

    if (rc)
        return rc;
    if (c == '\r') {
        p->state = PS_CR;
        return 0;
    }
    return complete(p);
}

/* ---- state handlers: each takes the byte at offset i of the chunk ------- */

static int tag_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static int st_start(struct isf_parser *p, unsigned char c, size_t i)
{
    size_t root;
    int rc;

    memset(&p->resp, 0, sizeof p->resp);
    p->root_closed = 0;
    p->sdepth = 0;
    p->searching = 0;
    rc = node_alloc(p, ISF_NODE_LIST, 0, &root);
    if (rc)
        return node_fail(p, rc);
    p->stack[0] = (uint32_t)root;
    if (c == '*') {
        p->resp.kind = ISF_RESP_UNTAGGED;
        p->state = PS_TAG_SP;
    } else if (c == '+') {
        p->resp.kind = ISF_RESP_CONTINUE;
        p->state = PS_ST_SP;
    } else if (tag_char(c)) {
        p->resp.kind = ISF_RESP_TAGGED;
        p->resp.tag_off = p->bytes.len;
        p->span = i;
        p->state = PS_TAG;
    } else {
        return bad(p, "response starts with byte 0x%02x, not '*', '+' or "
                   "a tag", c);
    }
    return 0;
}

static int st_tag(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc;

    if (tag_char(c))
        return 0;
    if (c == ' ') {
        rc = flush(p, i);
        p->resp.tag_len = p->bytes.len - p->resp.tag_off;
        p->state = PS_TAG_SP;
        return rc ? rc : AGAIN;
    }
    if (c == '\r' || c == '\n') {
        rc = flush(p, i);
        p->resp.tag_len = p->bytes.len - p->resp.tag_off;
        return rc ? rc : bad(p, "tagged response without a status at "
                                "offset %zu", p->resp_len);
    }
    /* Not a tag: nothing can be matched with this line. */
    p->resp.kind = ISF_RESP_UNTAGGED;
    p->resp.tag_off = 0;
    return bad(p, "byte 0x%02x in the tag at offset %zu", c, p->resp_len);
}

static int st_tag_sp(struct isf_parser *p, unsigned char c)
{
    if (c == ' ') {
        p->state = PS_BETWEEN;
        return 0;
    }
    if (c == '\r' || c == '\n')
        return bad(p, "response has nothing after its %s",
                   p->resp.kind == ISF_RESP_TAGGED ? "tag" : "'*'");
    return bad(p, "expected a space at offset %zu, got byte 0x%02x",
               p->resp_len, c);
}

static int lit_begin(struct isf_parser *p, int lit8)
{
    p->lit_n = 0;
    p->lit_digits = 0;
    p->lit8 = lit8;
    p->state = PS_LNUM;
    return 0;
}

static int st_between(struct isf_parser *p, unsigned char c, size_t i)
{
    switch (c) {
    case ' ':
        return cut_search(p);
    case '(':
        return open_list(p);
    case ')':
        p->state = PS_AFTER;
        return close_list(p);
    case '\r':
    case '\n':
        return eol(p, c);
    case '"':
        p->state = PS_QUOTED;
        p->span = i + 1;
        return add_child(p, ISF_NODE_STRING, 0);
    case '{':
        return lit_begin(p, 0);
    case '~':
        p->state = PS_TILDE;
        return 0;
    default:
        p->state = PS_ATOM;
        p->span = i;
        return add_child(p, ISF_NODE_ATOM, 0);
    }
}

static int st_after(struct isf_parser *p, unsigned char c)
{
    switch (c) {
    case ' ':
        p->state = PS_BETWEEN;
        return 0;
    case '(':
    case ')':
    case '\r':
    case '\n':
        p->state = PS_BETWEEN;
        return AGAIN;
    }
    return bad(p, "expected a space after a token at offset %zu, got byte "
               "0x%02x", p->resp_len, c);
}

static int st_atom(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc;

    switch (c) {
    case ' ':
    case '(':
    case ')':
    case '\r':
    case '\n':
        p->state = PS_BETWEEN;
        rc = flush(p, i);
        if (rc == 0)
            rc = finish_atom(p);
        return rc ? rc : AGAIN;
    case '[':
        p->state = PS_BR;
        p->br_depth = 1;
        return 0;
    }
    return 0;
}

/* The [...] part of an atom such as BODY[HEADER.FIELDS (A B)] is taken
 * whole: spaces, parens and quoted strings included. */
static int st_bracket(struct isf_parser *p, unsigned char c, size_t i)
{
    if (c == '\r' || c == '\n')
        return bad_eol(p, i, p->nodes[p->cur].off,
                       "unterminated '[' in an atom");
    if (p->state == PS_BR_QE) {
        p->state = PS_BR_Q;
    } else if (p->state == PS_BR_Q) {
        if (c == '\\')
            p->state = PS_BR_QE;
        else if (c == '"')
            p->state = PS_BR;
    } else if (c == '"') {
        p->state = PS_BR_Q;
    } else if (c == '[') {
        p->br_depth++;
    } else if (c == ']' && --p->br_depth == 0) {
        p->state = PS_ATOM;
    }
    return 0;
}

static int st_quoted(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc = 0;

    if (c == '"') {
        rc = flush(p, i);
        finish_string(p);
    } else if (c == '\\') {
        rc = flush(p, i);
        p->state = PS_QESC;
    } else if (c == '\r' || c == '\n') {
        rc = bad_eol(p, i, p->nodes[p->cur].off,
                     "unterminated quoted string");
    }
    return rc;
}

static int st_qesc(struct isf_parser *p, unsigned char c, size_t i)
{
    if (c == '\r' || c == '\n')
        return bad_eol(p, i, p->nodes[p->cur].off,
                       "unterminated quoted string");
    if (c != '"' && c != '\\')
        return bad(p, "bad escape '\\' byte 0x%02x in a quoted string at "
                   "offset %zu", c, p->resp_len);
    p->span = i; /* the escaped byte starts the next span */
    p->state = PS_QUOTED;
    return 0;
}

static int st_tilde(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc;

    if (c == '{')
        return lit_begin(p, 1);
    /* Just an atom that starts with "~". */
    p->state = PS_ATOM;
    p->span = i;
    rc = add_child(p, ISF_NODE_ATOM, 0);
    if (rc == 0 && isf_buf_putc(&p->bytes, '~') != 0)
        rc = fail_nomem(p);
    return rc ? rc : AGAIN;
}

/* The literal's size is checked against the limits as soon as it is
 * known; nothing is allocated for it until its bytes arrive. */
static int check_literal(struct isf_parser *p, size_t extra)
{
    size_t room;

    if (p->lit_n > p->lim.max_literal)
        return fail(p, ISF_ELIMIT, "literal of %llu bytes is larger than "
                    "max_literal (%zu) at offset %zu",
                    (unsigned long long)p->lit_n, p->lim.max_literal,
                    p->resp_len);
    room = p->lim.max_response > p->resp_len + extra
               ? p->lim.max_response - p->resp_len - extra
               : 0;
    if (p->lit_n > room)
        return fail(p, ISF_ELIMIT, "literal of %llu bytes would make the "
                    "response larger than max_response (%zu)",
                    (unsigned long long)p->lit_n, p->lim.max_response);
    return 0;
}

static int st_litnum(struct isf_parser *p, unsigned char c)
{
    if (c >= '0' && c <= '9') {
        /* Saturate instead of wrapping; the limit check reports it. */
        if (p->lit_n > UINT64_C(1844674407370955160))
            p->lit_n = UINT64_MAX;
        else
            p->lit_n = p->lit_n * 10 + (c - '0');
        p->lit_digits = 1;
        return 0;
    }
    if (c == '}' && p->lit_digits) {
        p->state = PS_LCR;
        return check_literal(p, 1);
    }
    return fail(p, ISF_EPROTO, "bad byte 0x%02x in a literal size at offset "
                "%zu", c, p->resp_len);
}

static int lit_data_begin(struct isf_parser *p)
{
    int rc = check_literal(p, 1);

    /* A fault on a line that announces a literal leaves the framing in
     * doubt: whether the server meant those bytes as data is unknown. */
    if (rc == 0 && p->resp.kind == ISF_RESP_TAGGED &&
        p->resp.status == ISF_ST_NONE)
        rc = fail(p, ISF_EPROTO, "tagged response does not start with OK, "
                  "NO or BAD but with a literal (offset %zu)", p->resp_len);

    if (rc == 0)
        rc = add_child(p, ISF_NODE_STRING,
                       p->lit8 ? ISF_NF_LITERAL8 : ISF_NF_LITERAL);
    if (rc)
        return rc;
    p->lit_rem = (size_t)p->lit_n;
    /* A new line starts after this LF; scan() counts the LF itself next,
     * and the unsigned wrap brings the count to 0. */
    p->line_len = (size_t)-1;
    if (p->lit_rem == 0)
        finish_string(p);
    else
        p->state = PS_LDATA;
    return 0;
}

static int st_litcrlf(struct isf_parser *p, unsigned char c)
{
    if (c == '\r' && p->state == PS_LCR) {
        p->state = PS_LLF;
        return 0;
    }
    if (c == '\n')
        return lit_data_begin(p);
    return fail(p, ISF_EPROTO, "expected CRLF after a literal size at offset "
                "%zu, got byte 0x%02x", p->resp_len, c);
}

static int st_cr(struct isf_parser *p, unsigned char c)
{
    if (c == '\n')
        return complete(p);
    return fail(p, ISF_EPROTO, "CR not followed by LF at offset %zu",
                p->resp_len);
}

static int st_status_sp(struct isf_parser *p, unsigned char c, size_t i)
{
    if (c == ' ')
        return 0;
    if (c == '[' && p->state == PS_ST_SP) {
        p->resp.code_off = p->bytes.len;
        p->span = i + 1;
        p->code_depth = 0;
        p->state = PS_CODE;
        return 0;
    }
    p->resp.text_off = p->bytes.len;
    if (c == '\r' || c == '\n')
        return eol(p, c);
    p->span = i;
    p->state = PS_TEXT;
    return 0;
}

/* resp-text-code (RFC 9051 section 9) is read by its grammar, not up to
 * the next ']': a ']' inside a parenthesized list (a flag such as
 * "\\[test]" in PERMANENTFLAGS) or a quoted string does not end it. */
static int st_code(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc;

    if (c == '\r' || c == '\n')
        return bad_eol(p, i, p->resp.code_off, "unterminated response code");
    if (c == '"') {
        p->state = PS_CODE_Q;
    } else if (c == '(') {
        p->code_depth++;
    } else if (c == ')') {
        if (p->code_depth == 0)
            return bad(p, "')' without '(' in a response code at offset %zu",
                       p->resp_len);
        p->code_depth--;
    } else if (c == ']' && p->code_depth == 0) {
        rc = flush(p, i);
        if (rc)
            return rc;
        p->resp.has_code = 1;
        p->resp.code_len = p->bytes.len - p->resp.code_off;
        p->state = PS_TEXT_SP;
        return code_nodes(p);
    }
    return 0;
}

static int st_code_quoted(struct isf_parser *p, unsigned char c, size_t i)
{
    if (c == '\r' || c == '\n')
        return bad_eol(p, i, p->resp.code_off,
                       "unterminated quoted string in a response code");
    if (p->state == PS_CODE_QE) {
        if (c != '"' && c != '\\')
            return bad(p, "bad escape '\\' byte 0x%02x in a response code "
                       "at offset %zu", c, p->resp_len);
        p->state = PS_CODE_Q;
    } else if (c == '\\') {
        p->state = PS_CODE_QE;
    } else if (c == '"') {
        p->state = PS_CODE;
    }
    return 0;
}

/* The rest of a malformed line. Its end is certain unless the line ends
 * in what announces a literal: the server may then send bytes that only
 * look like lines, so the stream is given up. */
static int st_skip(struct isf_parser *p, unsigned char c)
{
    if (c != '\r' && c != '\n') {
        p->skip_lit = lit_track(p->skip_lit, c);
        return 0;
    }
    if (p->skip_lit == LT_CLOSED)
        return fail(p, ISF_EPROTO, "%s, and the line ends in a literal "
                    "announcement", p->resp.malformed);
    if (c == '\r') {
        p->state = PS_CR;
        return 0;
    }
    return complete(p);
}

static int st_text(struct isf_parser *p, unsigned char c, size_t i)
{
    int rc;

    if (c != '\r' && c != '\n')
        return 0;
    rc = flush(p, i);
    p->resp.text_len = p->bytes.len - p->resp.text_off;
    return rc ? rc : eol(p, c);
}

/* States in which a NUL is a content error; elsewhere the state's own
 * check finds it (a bad tag byte, a framing error, or just skipped). */
static const unsigned char nul_is_bad[PS_ERROR + 1] = {
    [PS_TAG_SP] = 1, [PS_BETWEEN] = 1, [PS_AFTER] = 1,
    [PS_ATOM] = 1,   [PS_BR] = 1,     [PS_BR_Q] = 1,    [PS_BR_QE] = 1,
    [PS_QUOTED] = 1, [PS_QESC] = 1,   [PS_TILDE] = 1,   [PS_ST_SP] = 1,
    [PS_CODE] = 1,   [PS_CODE_Q] = 1, [PS_CODE_QE] = 1, [PS_TEXT_SP] = 1,
    [PS_TEXT] = 1,
};

static int step(struct isf_parser *p, unsigned char c, size_t i)
{
    if (c == '\0' && nul_is_bad[p->state])
        return bad(p, "NUL byte outside a literal at offset %zu",
                   p->resp_len);
    switch (p->state) {
    case PS_START: return st_start(p, c, i);
    case PS_TAG: return st_tag(p, c, i);
    case PS_TAG_SP: return st_tag_sp(p, c);
    case PS_BETWEEN: return st_between(p, c, i);
    case PS_AFTER: return st_after(p, c);
    case PS_ATOM: return st_atom(p, c, i);
    case PS_BR:
    case PS_BR_Q:
    case PS_BR_QE: return st_bracket(p, c, i);
    case PS_QUOTED: return st_quoted(p, c, i);
    case PS_QESC: return st_qesc(p, c, i);
    case PS_TILDE: return st_tilde(p, c, i);
    case PS_LNUM: return st_litnum(p, c);
    case PS_LCR:
    case PS_LLF: return st_litcrlf(p, c);
    case PS_CR: return st_cr(p, c);
    case PS_ST_SP:
    case PS_TEXT_SP: return st_status_sp(p, c, i);
    case PS_CODE: return st_code(p, c, i);
    case PS_CODE_Q:
    case PS_CODE_QE: return st_code_quoted(p, c, i);
    case PS_SKIP: return st_skip(p, c);
    case PS_TEXT: return st_text(p, c, i);
    default: return fail(p, ISF_EUSAGE, "parser fed in state %d", p->state);
    }
}

/* ---- feeding ------------------------------------------------------------ */

/* Bytes that stop a run of ordinary bytes, per state: one bit each for
 * atoms, quoted strings, text and response codes. */
static const unsigned char stops[256] = {
    [0] = 15,      ['\r'] = 15,    ['\n'] = 15, [' '] = 1,
    ['('] = 1 | 8, [')'] = 1 | 8, ['['] = 1,   ['"'] = 2 | 8,
    ['\\'] = 2,    [']'] = 8,
};

static const unsigned char run_mask[PS_ERROR + 1] = {
    [PS_ATOM] = 1, [PS_QUOTED] = 2, [PS_TEXT] = 4, [PS_CODE] = 8,
    [PS_CODE_Q] = 2,
};

/* Skips the ordinary bytes of a token or text in one tight loop; they stay
 * in the span and are stored later in bulk. Stops short of the limits so
 * that the byte-at-a-time loop reports them. */
static size_t run(struct isf_parser *p, const unsigned char *d, size_t i,
                  size_t len)
{
    unsigned mask = run_mask[p->state];
    size_t end = len, j = i, room;

    room = p->lim.max_line - p->line_len;
    if (room < end - i)
        end = i + room;
    room = p->lim.max_response - p->resp_len;
    if (room < end - i)
        end = i + room;
    while (j < end && !(stops[d[j]] & mask))
        j++;
    p->line_len += j - i;
    p->resp_len += j - i;
    return j;
}

/* Bytes of a line, one at a time, until the chunk ends, a literal's data
 * starts or the response is complete. */
static int scan(struct isf_parser *p, const unsigned char *d, size_t len,
                size_t *pos)
{
    size_t i = *pos;
    int rc = 0;

    while (i < len) {
        rc = 0;
        if (run_mask[p->state]) {
            i = run(p, d, i, len);
            if (i == len)
                break;
        }
        if (p->line_len >= p->lim.max_line) {
            rc = fail(p, ISF_ELIMIT, "line longer than max_line (%zu "
                      "bytes) at offset %zu", p->lim.max_line, p->resp_len);
            break;
        }
        if (p->resp_len >= p->lim.max_response) {
            rc = fail(p, ISF_ELIMIT, "response longer than max_response "
                      "(%zu bytes)", p->lim.max_response);
            break;
        }
        rc = step(p, d[i], i);
        if (rc == AGAIN)
            continue;
        if (rc < 0)
            break;
        i++;
        p->resp_len++;
        p->line_len++;
        if (rc == DONE || p->state == PS_LDATA)
            break;
    }
    *pos = i;
    return rc;
}

/* A literal's bytes are data, never protocol: copied in bulk. */
static int lit_data(struct isf_parser *p, const char *d, size_t len,
                    size_t *pos)
{
    size_t take = len - *pos;

    if (take > p->lit_rem)
        take = p->lit_rem;
    if (isf_buf_append(&p->bytes, d + *pos, take) != 0)
        return fail_nomem(p);
    *pos += take;
    p->lit_rem -= take;
    p->resp_len += take;
    if (p->lit_rem == 0) {
        finish_string(p);
        p->line_len = 0;
    }
    return 0;
}

static long report(const struct isf_parser *p, struct isf_error *e)
{
    if (e) {
        e->code = p->err.code;
        memcpy(e->msg, p->err.msg, sizeof e->msg);
    }
    return p->err.code;
}

long isf_parser_feed(struct isf_parser *p, const char *data, size_t len,
                     int *ready, struct isf_error *e)
{
    size_t i = 0;
    int rc = 0;

    *ready = 0;
    if (p->state == PS_ERROR)
        return report(p, e);
    if (p->state == PS_DONE) {
        *ready = 1;
        return 0;
    }
    if (len > (size_t)LONG_MAX)
        len = (size_t)LONG_MAX;
    p->in = data;
    p->span = 0;
    while (i < len && rc == 0) {
        if (p->state == PS_LDATA)
            rc = lit_data(p, data, len, &i);
        else
            rc = scan(p, (const unsigned char *)data, len, &i);
    }
    if (rc == 0 && collecting[p->state])
        rc = flush(p, len);
    p->in = NULL;
    if (rc < 0)
        return report(p, e);
    if (rc == DONE) {
        p->resp.wire_len = p->resp_len;
        *ready = 1;
    }
    return (long)i;
}

const struct isf_response *isf_parser_response(const struct isf_parser *p)
{
    return p->state == PS_DONE ? &p->resp : NULL;
}

/* After a SEARCH piece the same line goes on: the tree holds only the
 * keyword again (its bytes stay first in storage), and the counts of line
 * and response bytes start over, so the limits apply to each piece. */
static void next_piece(struct isf_parser *p)
{
    const struct isf_node *kw = &p->nodes[1];

    p->bytes.len = kw->off + kw->len;
    p->bytes.data[p->bytes.len] = '\0';
    p->nnodes = 2;
    p->nodes[0].count = 1;
    p->cur = 1;
    p->top = 1;
    p->root_closed = 0;
    p->sdepth = 0;
    p->resp_len = 0;
    p->line_len = 0;
    memset(&p->resp, 0, sizeof p->resp);
    p->resp.kind = ISF_RESP_UNTAGGED;
    p->state = PS_BETWEEN;
}

void isf_parser_release(struct isf_parser *p)
{
    if (p->state != PS_DONE)
        return;
    if (p->resp.partial) {
        next_piece(p);
        return;
    }
    if (p->bytes.cap > KEEP_BYTES)
        isf_buf_free(&p->bytes);
    isf_buf_reset(&p->bytes);
    if (p->ncap > KEEP_NODES) {
        free(p->nodes);
        p->nodes = NULL;
        p->ncap = 0;
    }
    p->nnodes = 0;
    p->sdepth = 0;
    p->resp_len = 0;
    p->line_len = 0;
    memset(&p->resp, 0, sizeof p->resp);
    p->state = PS_START;
}

int isf_parser_busy(const struct isf_parser *p)
{
    /* A SEARCH piece is ready, but its line is not over. */
    if (p->state == PS_DONE)
        return p->resp.partial;
    return p->state != PS_START;
}
