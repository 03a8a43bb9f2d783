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

int isf_escape(struct isf_buf *out, const char *s, size_t n, int utf8)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k;
    int rc = 0;

    while (i < n && rc == 0) {
        if (u[i] >= 0x20 && u[i] < 0x7f) {
            rc = isf_buf_putc(out, (char)u[i++]);
        } else if (utf8 && u[i] >= 0x80 && (k = utf8_len(u + i, n - i))) {
            rc = isf_buf_append(out, s + i, k);
            i += k;
        } else {
            rc = isf_buf_printf(out, "\\x%02x", u[i++]);
        }
    }
    return rc;
}

static int put_node(struct isf_buf *out, const struct isf_response *r,
                    size_t i);

static int put_list(struct isf_buf *out, const struct isf_response *r,
                    size_t i, int parens)
{
    size_t k = i + 1, end = r->nodes[i].end;
    int rc = parens ? isf_buf_putc(out, '(') : 0;

    while (rc == 0 && k < end) {
        if (k > i + 1)
            rc = isf_buf_putc(out, ' ');
        if (rc == 0)
            rc = put_node(out, r, k);
        k = r->nodes[k].end;
    }
    return rc == 0 && parens ? isf_buf_putc(out, ')') : rc;
}

static int put_node(struct isf_buf *out, const struct isf_response *r,
                    size_t i)
{
    const struct isf_node *nd = &r->nodes[i];
    const char *s = r->bytes + nd->off;
    int rc;

    switch (nd->type) {
    case ISF_NODE_NIL:
        return isf_buf_puts(out, "NIL");
    case ISF_NODE_LIST:
        return put_list(out, r, i, 1);
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
            rc = put_list(out, r, 0, 0);
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
