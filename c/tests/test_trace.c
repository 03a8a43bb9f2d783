/* test_trace.c: unit tests for the trace rendering of responses
 * (trace.c): lists nested deeper than the fixed bound are elided, however
 * deep the parser was allowed to go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "parser.h"
#include "trace.h"

/* "* X " + depth opening parens + "Y" + depth closing ones + CRLF. */
static char *nested(unsigned depth, size_t *len)
{
    char *s = malloc(2 * depth + 16);
    size_t n = 0;
    unsigned i;

    if (s == NULL)
        return NULL;
    memcpy(s, "* X ", 4);
    n = 4;
    for (i = 0; i < depth; i++)
        s[n++] = '(';
    s[n++] = 'Y';
    for (i = 0; i < depth; i++)
        s[n++] = ')';
    memcpy(s + n, "\r\n", 2);
    *len = n + 2;
    return s;
}

/* Renders the response made of text (parsed with max_depth) into out;
 * 0 when it parsed and rendered. */
static int render(const char *text, size_t len, unsigned max_depth,
                  struct isf_buf *out)
{
    struct isf_limits lim;
    struct isf_parser *p;
    struct isf_error e;
    int ready = 0, rc = -1;
    long n;

    isf_limits_default(&lim);
    lim.max_depth = max_depth;
    p = isf_parser_new(&lim);
    if (p == NULL)
        return -1;
    n = isf_parser_feed(p, text, len, &ready, &e);
    CHECK_E(n == (long)len && ready, e);
    if (n == (long)len && ready)
        rc = isf_trace_response(out, isf_parser_response(p));
    isf_parser_free(p);
    return rc;
}

static size_t count(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_plain(void)
{
    struct isf_buf out;

    isf_buf_init(&out, 4096);
    CHECK(render(S("* 3 FETCH (UID 7 FLAGS (\\Seen))\r\n"), 64, &out) == 0);
    CHECK(out.data &&
          strcmp(out.data, "* 3 FETCH (UID 7 FLAGS (\\Seen))") == 0);
    isf_buf_free(&out);
}

/* 32 levels are shown in full; the 33rd and below become "(...)". */
static void test_depth(unsigned depth, size_t want_open, int elided)
{
    struct isf_buf out;
    size_t len;
    char *text = nested(depth, &len);

    CHECK(text != NULL);
    if (text == NULL)
        return;
    isf_buf_init(&out, 1 << 20);
    CHECK(render(text, len, 2000, &out) == 0);
    CHECK(out.data != NULL);
    if (out.data) {
        CHECK(count(out.data, '(') == want_open);
        CHECK(count(out.data, ')') == want_open);
        CHECK((strstr(out.data, "(...)") != NULL) == elided);
        CHECK((strchr(out.data, 'Y') != NULL) == !elided);
        CHECK(out.len < 200);
    }
    isf_buf_free(&out);
    free(text);
}

int main(void)
{
    test_plain();
    test_depth(1, 1, 0);
    test_depth(32, 32, 0);
    test_depth(33, 33, 1);
    test_depth(1000, 33, 1);
    return check_report("test_trace");
}
