/* test_deflate.c: the COMPRESS=DEFLATE transport (RFC 4978) over a
 * socketpair, against a raw-deflate peer written here with zlib: both
 * directions, large transfers, bytes read ahead before the switch (split
 * at every offset), timeouts, corrupt input and the end of the stream;
 * and isf_conn_compress handing a connection's read-ahead over. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zlib.h>

#include "conn.h"
#include "transport.h"
#include "transport_util.h"
#include "tests/check.h"


/* --- a plain fd transport for one end of the socketpair ----------------- */

static int inner_closed; /* counts closes of the inner transport */

static long fd_read(struct isf_transport *t, void *buf, size_t len,
                    int timeout_ms, struct isf_error *e)
{
    return isf_fd_read(t->rfd, buf, len, isf_deadline(timeout_ms),
                       "test read", e);
}

static int fd_write(struct isf_transport *t, const void *buf, size_t len,
                    int timeout_ms, struct isf_error *e)
{
    return isf_fd_write(t->wfd, 1, buf, len, timeout_ms, "test write", e);
}

static void fd_close(struct isf_transport *t)
{
    close(t->rfd);
    free(t);
    inner_closed++;
}

static const struct isf_transport_ops fd_ops = {
    "test", fd_read, fd_write, fd_close, NULL,
};

/* A socketpair: *peer is the test's blocking end, *inner a transport
 * over the other (non-blocking) end. */
static void make_pair(int *peer, struct isf_transport **inner)
{
    int sv[2];
    struct isf_transport *t = calloc(1, sizeof *t);

    if (t == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        exit(2);
    }
    isf_fd_nonblock_cloexec(sv[1]);
    t->ops = &fd_ops;
    t->rfd = t->wfd = sv[1];
    *peer = sv[0];
    *inner = t;
}

/* A deflate transport over a fresh pair, with pending bytes. */
static struct isf_transport *open_dfl(int *peer, const void *pending,
                                      size_t npending)
{
    struct isf_transport *inner, *t = NULL;
    struct isf_error e = {0};

    make_pair(peer, &inner);
    if (isf_deflate_wrap(inner, pending, npending, &t, &e) < 0) {
        fprintf(stderr, "isf_deflate_wrap: %s\n", e.msg);
        exit(2);
    }
    return t;
}

/* --- the peer's zlib ---------------------------------------------------- */

/* Raw-deflates data with a sync flush into a new buffer (*n bytes). */
static unsigned char *compress_raw(const void *data, size_t len, int flush,
                                   size_t *n)
{
    z_stream z;
    size_t cap = len + len / 8 + 128;
    unsigned char *out = malloc(cap);

    memset(&z, 0, sizeof z);
    if (out == NULL ||
        deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(2);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, flush) == Z_STREAM_ERROR || z.avail_in != 0)
        exit(2);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Compresses a string on a running peer stream, with a sync flush. */
static size_t peer_flush(z_stream *z, const char *text, unsigned char *out,
                         size_t cap)
{
    z->next_in = (Bytef *)text;
    z->avail_in = (uInt)strlen(text);
    z->next_out = out;
    z->avail_out = (uInt)cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0)
        exit(2);
    return cap - z->avail_out;
}

/* Sample text with some repetition, like IMAP traffic. */
static unsigned char *sample(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len);
    size_t i;

    if (p == NULL)
        exit(2);
    for (i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (seed >> 16) % 7 == 0 ? (unsigned char)(seed >> 8)
                                      : (unsigned char)("IMAP \r\n"[i % 7]);
    }
    return p;
}

/* Reads exactly len plain bytes from t; 0 or the failing code. */
static int read_all(struct isf_transport *t, unsigned char *buf, size_t len,
                    int timeout_ms, struct isf_error *e)
{
    size_t got = 0;
    long r;

    while (got < len) {
        r = isf_transport_read(t, buf + got, len - got, timeout_ms, e);
        if (r < 0)
            return (int)r;
        got += (size_t)r;
    }
    return 0;
}

/* --- client to server ---------------------------------------------------- */

struct sink {
    int fd;
    size_t want;         /* plain bytes to collect */
    unsigned char *got;  /* inflated bytes */
    size_t ngot;
    int zerr;
};

/* The peer: reads compressed bytes until want plain bytes came out. */
static void *sink_run(void *arg)
{
    struct sink *s = arg;
    unsigned char in[4096];
    z_stream z;
    ssize_t n;
    int zr;

    memset(&z, 0, sizeof z);
    inflateInit2(&z, -15);
    while (s->ngot < s->want && (n = read(s->fd, in, sizeof in)) > 0) {
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            z.next_out = s->got + s->ngot;
            z.avail_out = (uInt)(s->want - s->ngot);
            zr = inflate(&z, Z_SYNC_FLUSH);
            s->ngot = s->want - z.avail_out;
            if (zr != Z_OK && zr != Z_BUF_ERROR)
                s->zerr = zr;
        } while (z.avail_in > 0 && s->ngot < s->want && !s->zerr);
    }
    inflateEnd(&z);
    return NULL;
}

static void test_write_small(void)
{
    static const char cmd[] = "A1 NOOP\r\n";
    struct isf_error e = {0};
    unsigned char got[64];
    struct sink s = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    CHECK_E(strcmp(t->ops->name, "deflate") == 0, e);
    CHECK_E(isf_transport_write(t, cmd, strlen(cmd), 1000, &e) == 0, e);
    /* The peer needs no more bytes: the write was flushed. */
    s.fd = peer;
    s.want = strlen(cmd);
    s.got = got;
    sink_run(&s);
    CHECK_E(s.zerr == 0 && s.ngot == strlen(cmd), e);
    CHECK_E(memcmp(got, cmd, strlen(cmd)) == 0, e);
    CHECK_E(isf_transport_write(t, "", 0, 1000, &e) == 0, e);
    isf_transport_close(t);
    close(peer);
}

/* 3 MB through the transport while the peer inflates in a thread. */
static void test_write_large(void)
{
    size_t len = 3u << 20;
    unsigned char *data = sample(len, 7), *got = malloc(len);
    struct isf_error e = {0};
    struct sink s = {0};
    pthread_t th;
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    s.fd = peer;
    s.want = len;
    s.got = got;
    pthread_create(&th, NULL, sink_run, &s);
    CHECK_E(isf_transport_write(t, data, len / 3, 5000, &e) == 0, e);
    CHECK_E(isf_transport_write(t, data + len / 3, len - len / 3, 5000, &e) ==
              0, e);
    pthread_join(th, NULL);
    CHECK_E(s.zerr == 0 && s.ngot == len, e);
    CHECK_E(memcmp(got, data, len) == 0, e);
    isf_transport_close(t);
    close(peer);
    free(data);
    free(got);
}

/* --- server to client ---------------------------------------------------- */

/* Two responses from one peer stream, with a timeout between them. */
static void test_read_small(void)
{
    static const char l1[] = "* OK [CAPABILITY IMAP4rev1] hello\r\n";
    static const char l2[] = "* OK [CAPABILITY IMAP4rev1] again\r\n";
    unsigned char got[sizeof l1], zb[256];
    struct isf_error e = {0};
    z_stream z;
    size_t n;
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    n = peer_flush(&z, l1, zb, sizeof zb);
    CHECK_E(write(peer, zb, n) == (ssize_t)n, e);
    CHECK_E(read_all(t, got, strlen(l1), 1000, &e) == 0, e);
    CHECK_E(memcmp(got, l1, strlen(l1)) == 0, e);
    /* Nothing more: a timeout, which leaves the stream usable. */
    CHECK_E(isf_transport_read(t, got, sizeof got, 50, &e) == ISF_ETIMEOUT, e);
    CHECK_E(t->ops->pending(t) == 0, e);
    n = peer_flush(&z, l2, zb, sizeof zb);
    CHECK_E(write(peer, zb, n) == (ssize_t)n, e);
    CHECK_E(read_all(t, got, strlen(l2), 1000, &e) == 0, e);
    CHECK_E(memcmp(got, l2, strlen(l2)) == 0, e);
    deflateEnd(&z);
    isf_transport_close(t);
    close(peer);
}

struct source {
    int fd;
    const unsigned char *z;
    size_t n;
};

static void *source_run(void *arg)
{
    struct source *s = arg;
    size_t off = 0;
    ssize_t w;

    while (off < s->n && (w = write(s->fd, s->z + off, s->n - off)) > 0)
        off += (size_t)w;
    return NULL;
}

/* 2 MB from the peer, compressed in one go and written by a thread. */
static void test_read_large(void)
{
    size_t len = 2u << 20, n;
    unsigned char *data = sample(len, 3), *got = malloc(len);
    unsigned char *z = compress_raw(data, len, Z_SYNC_FLUSH, &n);
    struct isf_error e = {0};
    struct source src;
    pthread_t th;
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    src.fd = peer;
    src.z = z;
    src.n = n;
    pthread_create(&th, NULL, source_run, &src);
    CHECK_E(read_all(t, got, len, 5000, &e) == 0, e);
    CHECK_E(memcmp(got, data, len) == 0, e);
    pthread_join(th, NULL);
    isf_transport_close(t);
    close(peer);
    free(data);
    free(got);
    free(z);
}

/* --- bytes read ahead before COMPRESS began ------------------------------ */

/* For every split: compressed bytes [0, k) are pending, the rest arrives
 * on the socket. All of it must come out, pending first, in order. */
static void test_pending_every_split(void)
{
    static const char text[] = "* 1 EXISTS\r\n* 2 EXISTS\r\n"
                               "* 3 FETCH (FLAGS (\\Seen))\r\nA3 OK done\r\n";
    size_t len = strlen(text), n, k;
    unsigned char *z = compress_raw(text, len, Z_SYNC_FLUSH, &n);
    unsigned char got[sizeof text];
    struct isf_error e = {0};
    struct isf_transport *t;
    int peer, bad = 0;

    for (k = 0; k <= n; k++) {
        t = open_dfl(&peer, z, k);
        if (n - k > 0 && write(peer, z + k, n - k) != (ssize_t)(n - k))
            bad++;
        if (read_all(t, got, len, 1000, &e) != 0 ||
            memcmp(got, text, len) != 0)
            bad++;
        isf_transport_close(t);
        close(peer);
    }
    CHECK_E(bad == 0, e);
    free(z);
}

/* All of a response pending: pending() reports it without the fd having
 * anything, and a read that may not wait still returns it. */
static void test_pending_op(void)
{
    static const char text[] = "* 4 EXISTS\r\n";
    size_t len = strlen(text), n;
    unsigned char *z = compress_raw(text, len, Z_SYNC_FLUSH, &n);
    unsigned char got[sizeof text];
    struct isf_error e = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, z, n);

    CHECK_E(t->ops->pending(t) == len, e);
    CHECK_E(t->ops->pending(t) == len, e); /* asking twice changes nothing */
    CHECK_E(isf_transport_read(t, got, 4, 0, &e) == 4, e);
    CHECK_E(t->ops->pending(t) == len - 4, e);
    CHECK_E(read_all(t, got + 4, len - 4, 0, &e) == 0, e);
    CHECK_E(memcmp(got, text, len) == 0, e);
    CHECK_E(t->ops->pending(t) == 0, e);
    CHECK_E(isf_transport_read(t, got, 1, 0, &e) == ISF_ETIMEOUT, e);
    isf_transport_close(t);
    close(peer);
    free(z);
}

static void test_pending_too_large(void)
{
    static unsigned char big[65537];
    struct isf_transport *inner, *t = NULL;
    struct isf_error e = {0};
    int peer, before = inner_closed;

    make_pair(&peer, &inner);
    CHECK_E(isf_deflate_wrap(inner, big, sizeof big, &t, &e) == ISF_ELIMIT, e);
    CHECK_E(t == NULL && inner_closed == before, e); /* inner still ours */
    CHECK_E(isf_deflate_wrap(inner, big, sizeof big - 1, &t, &e) == 0, e);
    isf_transport_close(t);
    CHECK_E(inner_closed == before + 1, e); /* closing t closed inner */
    close(peer);
}

/* --- failures ------------------------------------------------------------- */

/* 0x07: a final block of the reserved type 3, which inflate rejects. */
static void test_corrupt(void)
{
    static const unsigned char junk[] = {0x07, 0x00, 0x00, 0xff, 0xff};
    unsigned char got[64];
    struct isf_error e = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    CHECK_E(write(peer, junk, sizeof junk) == (ssize_t)sizeof junk, e);
    CHECK_E(isf_transport_read(t, got, sizeof got, 1000, &e) == ISF_EPROTO, e);
    CHECK_E(strstr(e.msg, "invalid block type") != NULL, e);
    memset(&e, 0, sizeof e);
    CHECK_E(isf_transport_read(t, got, sizeof got, 0, &e) == ISF_EPROTO, e);
    CHECK_E(strstr(e.msg, "invalid block type") != NULL, e);
    isf_transport_close(t);
    close(peer);
}

/* Corrupt pending bytes: pending() reports nothing, the read fails. */
static void test_corrupt_pending(void)
{
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff};
    unsigned char got[16];
    struct isf_error e = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, junk, sizeof junk);

    CHECK_E(t->ops->pending(t) == 0, e);
    CHECK_E(isf_transport_read(t, got, sizeof got, 0, &e) == ISF_EPROTO, e);
    CHECK_E(strstr(e.msg, "inflate") != NULL, e);
    CHECK_E(isf_transport_write(t, "x", 1, 100, &e) == ISF_EPROTO, e);
    isf_transport_close(t);
    close(peer);
}

/* The peer hangs up; or ends its deflate stream and sends more. */
static void test_close_and_end(void)
{
    static const char text[] = "* BYE bye\r\n";
    size_t len = strlen(text), n;
    unsigned char *z = compress_raw(text, len, Z_FINISH, &n);
    unsigned char got[64];
    struct isf_error e = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    close(peer);
    CHECK_E(isf_transport_read(t, got, sizeof got, 1000, &e) == ISF_ECLOSED,
          e);
    isf_transport_close(t);

    t = open_dfl(&peer, z, n);
    CHECK_E(read_all(t, got, len, 0, &e) == 0 && !memcmp(got, text, len), e);
    CHECK_E(isf_transport_read(t, got, sizeof got, 0, &e) == ISF_ETIMEOUT, e);
    close(peer);
    CHECK_E(isf_transport_read(t, got, sizeof got, 1000, &e) == ISF_ECLOSED,
          e);
    isf_transport_close(t);

    t = open_dfl(&peer, z, n);
    CHECK_E(write(peer, "\x03\x00", 2) == 2, e);
    CHECK_E(read_all(t, got, len, 0, &e) == 0, e);
    CHECK_E(isf_transport_read(t, got, sizeof got, 1000, &e) == ISF_EPROTO, e);
    isf_transport_close(t);
    close(peer);
    free(z);
}

static void test_write_to_closed_peer(void)
{
    struct isf_error e = {0};
    int peer;
    struct isf_transport *t = open_dfl(&peer, NULL, 0);

    close(peer);
    CHECK_E(isf_transport_write(t, "A1 NOOP\r\n", 9, 100, &e) == ISF_ECLOSED,
          e);
    /* The deflate state ran ahead of the peer: every write now fails. */
    CHECK_E(isf_transport_write(t, "A2 NOOP\r\n", 9, 100, &e) == ISF_ECLOSED,
          e);
    isf_transport_close(t);
}

/* --- isf_conn_compress ---------------------------------------------------- */

/* The server's OK and its first compressed response arrive in one read:
 * the connection must hand the compressed tail to the new transport. */
static void test_conn_compress(void)
{
    static const char ok[] = "A1 OK DEFLATE active\r\n";
    static const char more[] = "* 9 EXISTS\r\n";
    unsigned char wire[256];
    const struct isf_response *r;
    struct isf_transport *inner;
    struct isf_conn *c;
    struct isf_error e = {0};
    size_t n;
    int peer;
    unsigned char *z = compress_raw(more, strlen(more), Z_SYNC_FLUSH, &n);

    make_pair(&peer, &inner);
    CHECK_E(isf_conn_new(inner, NULL, &c, &e) == 0, e);
    memcpy(wire, ok, strlen(ok));
    memcpy(wire + strlen(ok), z, n);
    n += strlen(ok);
    CHECK_E(write(peer, wire, n) == (ssize_t)n, e);
    CHECK_E(isf_conn_next(c, 1000, &r, &e) == 0, e);
    CHECK_E(r->kind == ISF_RESP_TAGGED && r->status == ISF_ST_OK, e);
    CHECK_E(isf_conn_unread(c) > 0, e); /* compressed bytes, read ahead */
    CHECK_E(isf_conn_compress(c, &e) == 0, e);
    CHECK_E(strcmp(c->t->ops->name, "deflate") == 0, e);
    CHECK_E(isf_conn_unread(c) == strlen(more), e);
    CHECK_E(isf_conn_next(c, 0, &r, &e) == 0, e);
    CHECK_E(r->kind == ISF_RESP_UNTAGGED && r->wire_len == strlen(more), e);
    CHECK_E(isf_conn_compress(c, &e) == ISF_EUSAGE, e);
    CHECK_E(isf_conn_starttls(c, NULL, &e) == ISF_EUSAGE, e);
    CHECK_E(!c->broken, e);
    /* Commands now go out deflated. */
    CHECK_E(isf_conn_write(c, "A2 NOOP\r\n", 9, 1000, &e) == 0, e);
    {
        struct sink s = {peer, 9, wire, 0, 0};

        sink_run(&s);
        CHECK_E(s.ngot == 9 && memcmp(wire, "A2 NOOP\r\n", 9) == 0, e);
    }
    isf_conn_free(c);
    close(peer);
    free(z);
}

int main(void)
{
    test_write_small();
    test_write_large();
    test_read_small();
    test_read_large();
    test_pending_every_split();
    test_pending_op();
    test_pending_too_large();
    test_corrupt();
    test_corrupt_pending();
    test_close_and_end();
    test_write_to_closed_peer();
    test_conn_compress();
    return check_report("test_deflate");
}
