/* transport_deflate.c: COMPRESS=DEFLATE (RFC 4978) as a transport that
 * wraps another one, with zlib: raw deflate (no zlib header) both ways,
 * every write flushed so that each command reaches the server at once. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "transport.h"
#include "transport_util.h"

/* All buffers are fixed: compressed input read from the inner transport
 * (large enough for the bytes a connection had read ahead when COMPRESS
 * began), inflated bytes that pending() decompressed ahead, and
 * compressed output on its way to the inner transport. */
#define DFL_IN_MAX 65536
#define DFL_PLAIN_MAX 16384
#define DFL_OUT_MAX 16384
/* Input handed to deflate() per call: keeps avail_in within uInt. */
#define DFL_CHUNK (1u << 20)

struct dfl_transport {
    struct isf_transport base;
    struct isf_transport *inner;
    z_stream in;              /* inflate: server to client */
    z_stream out;             /* deflate: client to server */
    int in_ready, out_ready;  /* inflateInit2/deflateInit2 succeeded */
    int ended;                /* the server ended its deflate stream */
    /* 0, or the code every later call returns (with dead_err's text):
     * an inflate error or a failed write leaves the streams unusable. */
    int dead;
    struct isf_error dead_err;
    size_t ipos, ilen;        /* inbuf[ipos..ilen): not yet inflated */
    size_t ppos, plen;        /* plain[ppos..plen): inflated, not read */
    unsigned char inbuf[DFL_IN_MAX];
    unsigned char plain[DFL_PLAIN_MAX];
    unsigned char outbuf[DFL_OUT_MAX];
};

/* Remembers a fatal failure so that later calls report it again. */
static int dfl_kill(struct dfl_transport *t, int code, struct isf_error *e)
{
    t->dead = code;
    if (e != NULL && e != &t->dead_err)
        t->dead_err = *e;
    return code;
}

static int dfl_dead(struct dfl_transport *t, struct isf_error *e)
{
    return isf_error_set(e, t->dead, "%s", t->dead_err.msg);
}

/* Inflates buffered input into dst. Returns the bytes produced (0 when
 * more input is needed) or a negative code, which kills the stream. */
static long dfl_inflate(struct dfl_transport *t, unsigned char *dst,
                        size_t len, struct isf_error *e)
{
    size_t before_in = t->ilen - t->ipos;
    uInt room = len > UINT_MAX ? UINT_MAX : (uInt)len;
    int zr;

    if (t->ended)
        return before_in > 0
                   ? dfl_kill(t, isf_error_set(e, ISF_EPROTO,
                                  "COMPRESS: data after the end of the "
                                  "server's deflate stream"), e)
                   : 0;
    t->in.next_in = t->inbuf + t->ipos;
    t->in.avail_in = (uInt)before_in;
    t->in.next_out = dst;
    t->in.avail_out = room;
    /* Called even without new input: output zlib held back for lack of
     * room last time comes out now. Z_BUF_ERROR only means no progress. */
    zr = inflate(&t->in, Z_SYNC_FLUSH);
    t->ipos += before_in - t->in.avail_in;
    if (t->ipos == t->ilen)
        t->ipos = t->ilen = 0;
    if (zr == Z_STREAM_END)
        t->ended = 1;
    else if (zr != Z_OK && zr != Z_BUF_ERROR)
        return dfl_kill(t, isf_error_set(e, ISF_EPROTO,
                           "COMPRESS: cannot inflate server data: %s",
                           t->in.msg ? t->in.msg : zError(zr)), e);
    return (long)(room - t->in.avail_out);
}

/* Serves bytes pending() inflated ahead. */
static long dfl_take_plain(struct dfl_transport *t, void *buf, size_t len)
{
    size_t n = t->plen - t->ppos;

    if (n > len)
        n = len;
    memcpy(buf, t->plain + t->ppos, n);
    t->ppos += n;
    if (t->ppos == t->plen)
        t->ppos = t->plen = 0;
    return (long)n;
}

/* Reads more compressed input from the inner transport. inflate takes
 * all the input it is given while it has room for output, so inbuf is
 * normally empty here; unread bytes are kept in front all the same. */
static long dfl_fill(struct dfl_transport *t, int timeout_ms,
                     struct isf_error *e)
{
    long n;

    if (t->ipos > 0) {
        memmove(t->inbuf, t->inbuf + t->ipos, t->ilen - t->ipos);
        t->ilen -= t->ipos;
        t->ipos = 0;
    }
    if (t->ilen == sizeof t->inbuf)
        return dfl_kill(t, isf_error_set(e, ISF_EPROTO, "COMPRESS: "
                           "inflate makes no progress"), e);
    n = isf_transport_read(t->inner, t->inbuf + t->ilen,
                           sizeof t->inbuf - t->ilen, timeout_ms, e);
    if (n > 0)
        t->ilen += (size_t)n;
    return n;
}

static long dfl_read(struct isf_transport *bt, void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    struct dfl_transport *t = (struct dfl_transport *)bt;
    long long deadline = isf_deadline(timeout_ms);
    long n;

    if (len == 0)
        return isf_error_set(e, ISF_EUSAGE, "COMPRESS read: empty buffer");
    if (t->plen > t->ppos)
        return dfl_take_plain(t, buf, len);
    if (t->dead)
        return dfl_dead(t, e);
    for (;;) {
        n = dfl_inflate(t, buf, len, e);
        if (n != 0)
            return n;
        /* A timeout here leaves both streams intact. After the end of
         * the server's stream only the end of the connection may follow. */
        n = dfl_fill(t, isf_remaining_ms(deadline), e);
        if (n < 0)
            return n;
    }
}

/* Sends whatever deflate put in outbuf. */
static int dfl_drain(struct dfl_transport *t, int timeout_ms,
                     struct isf_error *e)
{
    size_t n = sizeof t->outbuf - t->out.avail_out;
    int r = 0;

    if (n > 0)
        r = isf_transport_write(t->inner, t->outbuf, n, timeout_ms, e);
    t->out.next_out = t->outbuf;
    t->out.avail_out = sizeof t->outbuf;
    return r;
}

/* Deflates one chunk with flush; all of its input is consumed and, for
 * Z_SYNC_FLUSH, all of its output sent. */
static int dfl_deflate_chunk(struct dfl_transport *t, const void *p,
                             uInt n, int flush, int timeout_ms,
                             struct isf_error *e)
{
    int zr, r, full;

    t->out.next_in = (Bytef *)p;
    t->out.avail_in = n;
    do {
        zr = deflate(&t->out, flush);
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return isf_error_set(e, ISF_EIO, "COMPRESS: deflate: %s",
                                 t->out.msg ? t->out.msg : zError(zr));
        /* A full buffer means deflate may have more to give. */
        full = t->out.avail_out == 0;
        if (full || flush == Z_SYNC_FLUSH) {
            r = dfl_drain(t, timeout_ms, e);
            if (r < 0)
                return r;
        }
    } while (t->out.avail_in > 0 || (flush == Z_SYNC_FLUSH && full));
    return 0;
}

static int dfl_write(struct isf_transport *bt, const void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    struct dfl_transport *t = (struct dfl_transport *)bt;
    const unsigned char *p = buf;
    uInt n;
    int r;

    if (t->dead)
        return dfl_dead(t, e);
    while (len > 0) {
        n = len > DFL_CHUNK ? DFL_CHUNK : (uInt)len;
        r = dfl_deflate_chunk(t, p, n, n == len ? Z_SYNC_FLUSH : Z_NO_FLUSH,
                              timeout_ms, e);
        if (r < 0) /* the deflate state ran ahead of what was sent */
            return dfl_kill(t, r, e);
        p += n;
        len -= n;
    }
    return 0;
}

/* Inflated bytes readable without touching the fd: what is already
 * inflated, else what the compressed bytes on hand inflate to. Bytes the
 * inner transport holds are not counted. An inflate error is kept for
 * the next read to report. */
static size_t dfl_pending(struct isf_transport *bt)
{
    struct dfl_transport *t = (struct dfl_transport *)bt;
    long n;

    if (t->plen == 0 && !t->dead) {
        n = dfl_inflate(t, t->plain, sizeof t->plain, &t->dead_err);
        t->plen = n > 0 ? (size_t)n : 0;
    }
    return t->plen - t->ppos;
}

/* Ends both streams; never fails. */
static void dfl_free(struct dfl_transport *t)
{
    if (t->in_ready)
        inflateEnd(&t->in);
    if (t->out_ready)
        deflateEnd(&t->out);
    free(t);
}

static void dfl_close(struct isf_transport *bt)
{
    struct dfl_transport *t = (struct dfl_transport *)bt;
    struct isf_transport *inner = t->inner;

    dfl_free(t);
    isf_transport_close(inner);
}

static const struct isf_transport_ops dfl_ops = {
    "deflate", dfl_read, dfl_write, dfl_close, dfl_pending,
};

/* Raw deflate both ways (negative windowBits: no zlib header). */
static int dfl_init_streams(struct dfl_transport *t, struct isf_error *e)
{
    int zr = inflateInit2(&t->in, -15);

    if (zr != Z_OK)
        return isf_error_set(e, ISF_ENOMEM, "COMPRESS: inflateInit: %s",
                             zError(zr));
    t->in_ready = 1;
    zr = deflateInit2(&t->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                      Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        return isf_error_set(e, ISF_ENOMEM, "COMPRESS: deflateInit: %s",
                             zError(zr));
    t->out_ready = 1;
    t->out.next_out = t->outbuf;
    t->out.avail_out = sizeof t->outbuf;
    return 0;
}

int isf_deflate_wrap(struct isf_transport *inner, const void *pending,
                     size_t npending, struct isf_transport **out,
                     struct isf_error *e)
{
    struct dfl_transport *t;
    int r;

    if (inner == NULL || out == NULL || (npending > 0 && pending == NULL))
        return isf_error_set(e, ISF_EUSAGE, "COMPRESS: missing transport");
    if (npending > DFL_IN_MAX)
        return isf_error_set(e, ISF_ELIMIT, "COMPRESS: %zu bytes read "
                             "ahead exceed the %d-byte input buffer",
                             npending, DFL_IN_MAX);
    t = calloc(1, sizeof *t); /* zeroed z_streams: zlib's allocators */
    if (t == NULL)
        return isf_error_set(e, ISF_ENOMEM, "COMPRESS: out of memory");
    r = dfl_init_streams(t, e);
    if (r < 0) {
        dfl_free(t);
        return r;
    }
    t->base.ops = &dfl_ops;
    t->base.rfd = inner->rfd;
    t->base.wfd = inner->wfd;
    t->inner = inner;
    if (npending > 0)
        memcpy(t->inbuf, pending, npending);
    t->ilen = npending;
    *out = &t->base;
    return 0;
}
