/* fuzz_parser.c: libFuzzer target for the IMAP response parser (parser.c).
 * The first byte picks the chunk sizes; the rest is the server's stream,
 * fed in those chunks (each its own heap copy, freed right after) with
 * tight limits. Every response is checked, dumped and released; the dump
 * must equal the one from feeding the same stream in a single chunk. */
#include "buf.h"
#include "parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Walks the subtree at i, checking the invariants of parser.h; returns the
 * index after it. Any broken invariant aborts so the fuzzer reports it. */
static size_t walk(const struct isf_response *r, size_t i, size_t limit,
                   size_t blen)
{
    const struct isf_node *n = &r->nodes[i];
    size_t j = i + 1, k;

    if (i >= limit || n->off > blen || n->len > blen - n->off)
        abort();
    if (n->type != ISF_NODE_LIST) {
        if (n->end != i + 1 || n->type > ISF_NODE_LIST)
            abort();
        return j;
    }
    for (k = 0; k < n->count; k++)
        j = walk(r, j, n->end, blen);
    if (j != n->end || n->end > limit)
        abort();
    return j;
}

/* Appends a slice (checked against blen, so a bad one aborts or trips
 * ASan) to the dump. The store never holds more than the wire bytes plus
 * an unescaped copy of the code's quoted strings, plus the keyword that
 * a SEARCH or SORT piece repeats: 2 * wire_len + 6 bounds it. */
static void dump(struct isf_buf *o, const char *s, size_t off, size_t len,
                 size_t blen)
{
    if (off > blen || len > blen - off)
        abort();
    isf_buf_append(o, &len, sizeof len);
    isf_buf_append(o, s + off, len);
}

static void check(struct isf_buf *o, const struct isf_response *r,
                  size_t fed)
{
    size_t blen = 2 * r->wire_len + 6, end, i;
    const struct isf_node *n;

    if (r->nnodes == 0 || r->wire_len != fed)
        abort();
    if ((r->kind == ISF_RESP_TAGGED) != (r->tag_len > 0))
        abort();
    end = r->has_code ? r->code_node : r->nnodes;
    if (walk(r, 0, end, blen) != end || r->nodes[0].end != end)
        abort();
    if (r->has_code && walk(r, end, r->nnodes, blen) != r->nnodes)
        abort();
    isf_buf_printf(o, "%d %d %d %zu %zu|", (int)r->kind, (int)r->status,
                   r->has_code, r->nnodes, r->code_node);
    for (i = 0; i < r->nnodes; i++) {
        n = &r->nodes[i];
        isf_buf_printf(o, "%d.%d.%u.%u.%llu", n->type, n->flags, n->count,
                       n->end, (unsigned long long)n->num);
        dump(o, r->bytes, n->off, n->len, blen);
    }
    dump(o, r->bytes, r->tag_off, r->tag_len, blen);
    dump(o, r->bytes, r->code_off, r->code_len, blen);
    dump(o, r->bytes, r->text_off, r->text_len, blen);
}

/* Feeds one chunk, checking and releasing each response it completes.
 * Returns 0 or the parser's error code. */
static int feed_chunk(struct isf_parser *p, const char *chunk, size_t n,
                      size_t *fed, struct isf_buf *o, struct isf_error *e)
{
    size_t used = 0;

    while (used < n) {
        int ready;
        long k = isf_parser_feed(p, chunk + used, n - used, &ready, e);
        if (k < 0) {
            struct isf_error again;
            if (isf_parser_feed(p, "x", 1, &ready, &again) != k ||
                strcmp(again.msg, e->msg) != 0)
                abort(); /* errors must stick */
            return (int)k;
        }
        used += (size_t)k;
        *fed += (size_t)k;
        if (!ready) {
            if (used != n || isf_parser_response(p))
                abort();
            break;
        }
        check(o, isf_parser_response(p), *fed);
        *fed = 0;
        isf_parser_release(p);
    }
    return 0;
}

/* Feeds data in chunks of varied sizes below step (0: one chunk); the
 * dump of every response and the final error go to o. */
static void run(const uint8_t *data, size_t size, size_t step,
                struct isf_buf *o)
{
    struct isf_limits lim = {256, 4096, 8192, 8, 512};
    struct isf_parser *p = isf_parser_new(&lim);
    struct isf_error e;
    size_t off = 0, fed = 0;
    int rc = 0;

    if (p == NULL)
        abort();
    while (off < size && rc == 0) {
        size_t n = step ? 1 + (off * 31 + step) % step : size - off;
        char *chunk;

        if (n > size - off)
            n = size - off;
        chunk = malloc(n);
        if (chunk == NULL)
            abort();
        memcpy(chunk, data + off, n);
        rc = feed_chunk(p, chunk, n, &fed, o, &e);
        free(chunk);
        off += n;
    }
    isf_buf_printf(o, "end %d %d %s", rc, isf_parser_busy(p),
                   rc ? e.msg : "");
    isf_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct isf_buf a, b;

    if (size < 1)
        return 0;
    isf_buf_init(&a, (size_t)1 << 30);
    isf_buf_init(&b, (size_t)1 << 30);
    run(data + 1, size - 1, data[0], &a);
    if (data[0] != 0) {
        run(data + 1, size - 1, 0, &b);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort(); /* chunking changed the result */
    }
    isf_buf_free(&a);
    isf_buf_free(&b);
    return 0;
}
