/* bench_parse.c: a micro-benchmark of the response parser and the Lua
 * table builder over a generated FETCH stream, as a server sends it for a
 * header scan and for whole bodies. Not a test: it prints figures.
 *
 *   bench_parse [N]     N header responses (default 200000)
 *
 * Figures: header responses per second through the parser alone and
 * through the parser plus isf_push_response into a lua_State (the builder
 * the binding uses, so the count is of Lua values made), and MB/s of
 * bodies (4 KiB and 1 MiB literals) through the parser alone. Each figure
 * is the best of several passes, fed in 64 KiB chunks like a socket. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "lua_response.h"
#include "parser.h"

#define CHUNK 65536
#define PASSES 5

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_parse: %s\n", what);
    exit(1);
}

/* What a header scan of the rules layer gets back, per message: UID,
 * FLAGS, size and two header fields as a literal. */
static void gen_headers(struct isf_buf *b, long n)
{
    char hdr[256];
    long i;
    int len;

    for (i = 1; i <= n; i++) {
        len = snprintf(hdr, sizeof hdr,
                       "From: Sender %ld <s%ld@example.org>\r\n"
                       "Subject: message number %ld about things\r\n\r\n",
                       i % 997, i % 997, i);
        if (isf_buf_printf(b,
                           "* %ld FETCH (UID %ld FLAGS (\\Seen $Label%ld) "
                           "RFC822.SIZE %ld BODY[HEADER.FIELDS (FROM "
                           "SUBJECT)] {%d}\r\n%s)\r\n",
                           i, i + 1000, i % 3, 2000 + i % 50000, len,
                           hdr) != 0)
            die("out of memory");
    }
}

static void gen_bodies(struct isf_buf *b, long n, size_t size)
{
    char *body = malloc(size);
    long i;

    if (body == NULL)
        die("out of memory");
    memset(body, 'x', size);
    memcpy(body + size - 2, "\r\n", 2);
    for (i = 1; i <= n; i++)
        if (isf_buf_printf(b, "* %ld FETCH (UID %ld BODY[] {%zu}\r\n", i, i,
                           size) != 0 ||
            isf_buf_append(b, body, size) != 0 ||
            isf_buf_append(b, ")\r\n", 3) != 0)
            die("out of memory");
    free(body);
}

/* One pass over the stream; with L, each response also becomes a table
 * (popped again, as a streamed fetch drops it). Returns the count. */
static long pass(const struct isf_buf *w, lua_State *L)
{
    struct isf_parser *p = isf_parser_new(NULL);
    struct isf_error e;
    size_t off = 0, end, at;
    long got = 0, n;
    int ready;

    if (p == NULL)
        die("out of memory");
    while (off < w->len) {
        end = off + CHUNK < w->len ? off + CHUNK : w->len;
        for (at = off; at < end; at += (size_t)n) {
            n = isf_parser_feed(p, w->data + at, end - at, &ready, &e);
            if (n < 0)
                die(e.msg);
            if (!ready)
                continue;
            if (L != NULL) {
                isf_push_response(L, isf_parser_response(p));
                lua_pop(L, 1);
            }
            isf_parser_release(p);
            got++;
        }
        off = end;
    }
    isf_parser_free(p);
    return got;
}

/* The best of PASSES passes, in seconds; *count gets the responses. */
static double best(const struct isf_buf *w, lua_State *L, long *count)
{
    double t, dt = 1e30;
    int k;

    for (k = 0; k < PASSES; k++) {
        if (L != NULL)
            lua_gc(L, LUA_GCCOLLECT);
        t = now();
        *count = pass(w, L);
        t = now() - t;
        if (t < dt)
            dt = t;
    }
    return dt;
}

static void report(const char *label, const struct isf_buf *w, lua_State *L)
{
    long count = 0;
    double dt = best(w, L, &count);

    printf("%-34s %8ld responses %8.1f MB %7.3f s %11.0f responses/s "
           "%8.1f MB/s\n",
           label, count, (double)w->len / 1e6, dt, (double)count / dt,
           (double)w->len / 1e6 / dt);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    struct isf_buf w;
    lua_State *L = luaL_newstate();

    if (n <= 0 || L == NULL)
        die("usage: bench_parse [N > 0]");
    isf_buf_init(&w, (size_t)-1);
    gen_headers(&w, n);
    report("header scan: parser", &w, NULL);
    report("header scan: parser + Lua tables", &w, L);
    isf_buf_reset(&w);
    gen_bodies(&w, 50000, 4096);
    report("4 KiB bodies: parser", &w, NULL);
    isf_buf_reset(&w);
    gen_bodies(&w, 200, 1 << 20);
    report("1 MiB bodies: parser", &w, NULL);
    isf_buf_reset(&w);
    gen_bodies(&w, 200, 1 << 20);
    report("1 MiB bodies: parser + Lua", &w, L);
    isf_buf_free(&w);
    lua_close(L);
    return 0;
}
