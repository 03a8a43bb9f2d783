/* trace.c: escaped renderings of server data for traces and error
 * messages (see trace.h). */
#include "trace.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (2..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned c = s[0];

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The code point of the sequence of len bytes at s (utf8_len checked
 * its shape). */
static unsigned code_point(const unsigned char *s, size_t len)
{
    unsigned cp = s[0] & (len == 2 ? 0x1fu : len == 3 ? 0x0fu : 0x07u);
    size_t i;

    for (i = 1; i < len; i++)
        cp = cp << 6 | (s[i] & 0x3fu);
    return cp;
}

/* Whether the sequence is the shortest form of a Unicode scalar value:
 * an overlong form could smuggle a control past a lax reader. */
static int canonical(unsigned cp, size_t len)
{
    static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};

    return cp >= least[len] && cp <= 0x10ffff &&
           !(cp >= 0xd800 && cp <= 0xdfff);
}

/* Code points a terminal obeys instead of showing: C1 controls and the
 * bidi overrides and isolates that reorder displayed text. */
static int hidden(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

int isf_escape(struct isf_buf *out, const char *s, size_t n, int utf8)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k;
    int rc = 0;

    while (i < n && rc == 0) {
        if (u[i] >= 0x20 && u[i] < 0x7f) {
            rc = isf_buf_putc(out, (char)u[i++]);
        } else if (utf8 && u[i] >= 0x80 && (k = utf8_len(u + i, n - i)) &&
                   canonical(code_point(u + i, k), k)) {
            unsigned cp = code_point(u + i, k);

            if (hidden(cp))
                rc = isf_buf_printf(out, "\\u{%x}", cp);
            else
                rc = isf_buf_append(out, s + i, k);
            i += k;
        } else {
            rc = isf_buf_printf(out, "\\x%02x", u[i++]);
        }
    }
    return rc;
}

/* Lists nested deeper than this are rendered as "(...)": rendering
 * recurses once per level, and a caller may raise the parser's max_depth
 * far beyond what a C stack (or a reader of the trace) should take. */
#define TRACE_MAX_DEPTH 32

static int put_node(struct isf_buf *out, const struct isf_response *r,
                    size_t i, unsigned depth);

/* The children of list node i, space-separated, in parentheses when
 * parens; depth counts the parenthesized lists around them. */
static int put_list(struct isf_buf *out, const struct isf_response *r,
                    size_t i, int parens, unsigned depth)
{
    size_t k = i + 1, end = r->nodes[i].end;
    int rc;

    if (parens && depth > TRACE_MAX_DEPTH)
        return isf_buf_puts(out, "(...)");
    rc = parens ? isf_buf_putc(out, '(') : 0;
    while (rc == 0 && k < end) {
        if (k > i + 1)
            rc = isf_buf_putc(out, ' ');
        if (rc == 0)
            rc = put_node(out, r, k, depth);
        k = r->nodes[k].end;
    }
    return rc == 0 && parens ? isf_buf_putc(out, ')') : rc;
}

static int put_node(struct isf_buf *out, const struct isf_response *r,
                    size_t i, unsigned depth)
{
    const struct isf_node *nd = &r->nodes[i];
    const char *s = r->bytes + nd->off;
    int rc;

    switch (nd->type) {
    case ISF_NODE_NIL:
        return isf_buf_puts(out, "NIL");
    case ISF_NODE_LIST:
        return put_list(out, r, i, 1, depth + 1);
    case ISF_NODE_STRING:
        if (nd->flags & (ISF_NF_LITERAL | ISF_NF_LITERAL8))
            return isf_buf_printf(out, "%s{%zu}",
                                  nd->flags & ISF_NF_LITERAL8 ? "~" : "",
                                  nd->len);
        rc = isf_buf_putc(out, '"');
        if (rc == 0)
            rc = isf_escape(out, s, nd->len, 1);
        return rc ? rc : isf_buf_putc(out, '"');
    default:
        return isf_escape(out, s, nd->len, 1);
    }
}

int isf_trace_response(struct isf_buf *out, const struct isf_response *r)
{
    int rc;

    if (r->kind == ISF_RESP_TAGGED)
        rc = isf_escape(out, r->bytes + r->tag_off, r->tag_len, 0);
    else
        rc = isf_buf_putc(out, r->kind == ISF_RESP_CONTINUE ? '+' : '*');
    if (rc == 0 && r->nnodes > 0 && r->nodes[0].end > 1) {
        rc = isf_buf_putc(out, ' ');
        if (rc == 0)
            rc = put_list(out, r, 0, 0, 0);
    }
    if (rc == 0 && r->has_code) {
        rc = isf_buf_puts(out, " [");
        if (rc == 0)
            rc = isf_escape(out, r->bytes + r->code_off, r->code_len, 1);
        if (rc == 0)
            rc = isf_buf_putc(out, ']');
    }
    if (rc == 0 && r->text_len > 0) {
        rc = isf_buf_putc(out, ' ');
        if (rc == 0)
            rc = isf_escape(out, r->bytes + r->text_off, r->text_len, 1);
    }
    return rc;
}
