/* conn.c: an IMAP connection: transport + parser + session state
 * (see conn.h). */
#include "conn.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long isf_conn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wait for the next bytes: timeout_ms, cut to the deadline. */
static int wait_ms(const struct isf_conn *c, int timeout_ms,
                   struct isf_error *e)
{
    long long left;

    if (c->deadline_ms == 0)
        return timeout_ms;
    left = c->deadline_ms - isf_conn_now_ms();
    if (left <= 0)
        return isf_error_set(e, ISF_ETIMEOUT, "deadline passed");
    return timeout_ms >= 0 && timeout_ms < left ? timeout_ms : (int)left;
}

int isf_conn_new(struct isf_transport *t, const struct isf_limits *limits,
                 struct isf_conn **out, struct isf_error *e)
{
    struct isf_conn *c = calloc(1, sizeof *c);

    if (c == NULL || (c->p = isf_parser_new(limits)) == NULL) {
        free(c);
        isf_transport_close(t);
        return isf_error_set(e, ISF_ENOMEM, "out of memory");
    }
    c->t = t;
    isf_session_init(&c->s, "A");
    isf_queue_init(&c->q);
    *out = c;
    return 0;
}

void isf_conn_free(struct isf_conn *c)
{
    if (c == NULL)
        return;
    isf_transport_close(c->t);
    isf_parser_free(c->p);
    isf_queue_free(&c->q);
    free(c->held);
    free(c);
}

static int fail(struct isf_conn *c, int rc)
{
    if (rc != ISF_ETIMEOUT)
        c->broken = 1;
    return rc;
}

/* The stream can no longer be trusted (a parser error, injected bytes):
 * nothing read or held is delivered any more. */
static int desync(struct isf_conn *c, int rc)
{
    c->broken = c->desync = 1;
    isf_queue_free(&c->q);
    return rc;
}

/* Feeds buffered bytes; 1 when a response is complete, 0 when more bytes
 * are needed, or a negative code. */
static int feed_buffered(struct isf_conn *c, struct isf_error *e)
{
    int ready = 0;
    long n;

    while (c->rpos < c->rlen) {
        n = isf_parser_feed(c->p, c->rbuf + c->rpos, c->rlen - c->rpos,
                            &ready, e);
        if (n < 0)
            return (int)n;
        c->rpos += (size_t)n;
        if (ready)
            return 1;
    }
    c->rpos = c->rlen = 0;
    return 0;
}

/* Forgets the response handed out last. */
static void release_last(struct isf_conn *c)
{
    if (c->ready) {
        isf_parser_release(c->p);
        c->ready = 0;
    }
    free(c->held);
    c->held = NULL;
}

/* Reads the next complete response off the wire into the parser. */
static int read_wire(struct isf_conn *c, int timeout_ms,
                     const struct isf_response **out, struct isf_error *e)
{
    long n;
    int rc;

    for (;;) {
        rc = feed_buffered(c, e);
        if (rc < 0)
            return desync(c, rc);
        if (rc == 1) {
            c->ready = 1;
            *out = isf_parser_response(c->p);
            return 0;
        }
        /* A broken link may still have delivered responses (the BYE that
         * says why): those in the buffer are read, then nothing more. */
        if (c->broken)
            return isf_error_set(e, ISF_ECLOSED, "connection is closed");
        rc = wait_ms(c, timeout_ms, e);
        if (rc < 0)
            return rc; /* ISF_ETIMEOUT: the connection stays usable */
        n = isf_transport_read(c->t, c->rbuf, sizeof c->rbuf, rc, e);
        if (n < 0)
            return fail(c, (int)n);
        c->rpos = 0;
        c->rlen = (size_t)n;
    }
}

/* 1 when the reader of tag takes a response owned as o. */
static int for_reader(const struct isf_owner *o, const void *tag)
{
    return tag == NULL || o->tag[0] == '\0' || o->stale ||
           strcmp(o->tag, tag) == 0;
}

static int take_held(struct isf_conn *c, const char *tag,
                     const struct isf_response **out)
{
    c->held = isf_queue_take(&c->q, for_reader, tag);
    if (c->held == NULL)
        return 0;
    c->owner = c->held->owner;
    *out = &c->held->r;
    return 1;
}

/* Reads the wire until a response for the reader of tag arrives,
 * holding the others. */
static int read_for(struct isf_conn *c, const char *tag, int timeout_ms,
                    const struct isf_response **out, struct isf_error *e)
{
    const struct isf_response *r = NULL;
    int rc;

    if (c->desync)
        return isf_error_set(e, ISF_ECLOSED, "connection is closed");
    for (;;) {
        release_last(c);
        if ((rc = read_wire(c, timeout_ms, &r, e)) < 0)
            return rc;
        isf_session_on_response(&c->s, r, &c->owner);
        if (c->on_wire)
            c->on_wire(c->wire_ctx, r);
        if (c->owner.premature)
            return desync(c, isf_error_set(e, ISF_EPROTO, "server completed "
                                         "a command before it was sent "
                                         "whole"));
        if (r->kind == ISF_RESP_TAGGED && !c->owner.known &&
            c->s.state != ISF_STATE_GREETING)
            continue; /* a tag never sent: traced, ignored */
        if (for_reader(&c->owner, tag)) {
            *out = r;
            return 0;
        }
        if ((rc = isf_queue_push(&c->q, r, &c->owner, e)) < 0)
            return fail(c, rc);
    }
}

int isf_conn_read(struct isf_conn *c, const char *tag, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e)
{
    release_last(c);
    if (take_held(c, tag, out))
        return 0; /* held responses outlive a broken link (a BYE says why) */
    return read_for(c, tag, timeout_ms, out, e);
}

int isf_conn_next(struct isf_conn *c, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e)
{
    return isf_conn_read(c, NULL, timeout_ms, out, e);
}

/* Waits for the "+" that lets tag's next literal go; what else arrives is
 * held for its reader. 1 to go on, 0 when the server completed the
 * command instead (NO/BAD), or a negative code. */
static int await_continuation(struct isf_conn *c, const char *tag,
                              int timeout_ms, struct isf_error *e)
{
    const struct isf_response *r;
    int rc;

    for (;;) {
        if ((rc = read_for(c, tag, timeout_ms, &r, e)) < 0)
            return rc;
        if (r->kind == ISF_RESP_CONTINUE)
            return 1;
        if ((rc = isf_queue_push(&c->q, r, &c->owner, e)) < 0)
            return fail(c, rc);
        if (r->kind == ISF_RESP_TAGGED && strcmp(c->owner.tag, tag) == 0)
            return 0;
    }
}

int isf_conn_send(struct isf_conn *c, const char *tag, const char *wire,
                  const size_t *seg_end, size_t nseg, size_t len,
                  int timeout_ms, struct isf_error *e)
{
    size_t seg, start = 0, end;
    int rc = 0;

    for (seg = 0; seg <= nseg; seg++) {
        end = seg < nseg ? seg_end[seg] : len;
        rc = isf_conn_write(c, wire + start, end - start, timeout_ms, e);
        if (rc < 0)
            break;
        isf_session_sent(&c->s, tag, seg == nseg);
        start = end;
        if (seg < nseg) {
            rc = await_continuation(c, tag, timeout_ms, e);
            if (rc < 0)
                c->broken = 1; /* the server waits for the literal */
            if (rc <= 0)
                break;
        }
    }
    release_last(c);
    if (rc < 0)
        isf_session_forget(&c->s, tag);
    return rc < 0 ? rc : (rc == 0 && seg <= nseg);
}

int isf_conn_write(struct isf_conn *c, const void *data, size_t len,
                   int timeout_ms, struct isf_error *e)
{
    int rc;

    if (c->broken)
        return isf_error_set(e, ISF_ECLOSED, "connection is closed");
    if ((rc = wait_ms(c, timeout_ms, e)) < 0)
        return rc; /* nothing written: the connection stays usable */
    rc = isf_transport_write(c->t, data, len, rc, e);
    if (rc < 0)
        c->broken = 1; /* part of a command may be out: no way back */
    return rc < 0 ? rc : 0;
}

size_t isf_conn_unread(const struct isf_conn *c)
{
    size_t n = c->rlen - c->rpos;

    if (c->t->ops->pending)
        n += c->t->ops->pending(c->t);
    return n;
}

int isf_conn_fd(const struct isf_conn *c)
{
    return c->t->rfd;
}

int isf_conn_has_input(const struct isf_conn *c)
{
    return c->broken || c->q.count > 0 || isf_conn_unread(c) > 0;
}

/* 1 when the peer has already sent more bytes (checked without waiting). */
static int more_waiting(const struct isf_conn *c)
{
    struct pollfd pfd = {.fd = c->t->rfd, .events = POLLIN};

    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

static int is_compressed(const struct isf_conn *c)
{
    return strcmp(c->t->ops->name, "deflate") == 0;
}

int isf_conn_starttls(struct isf_conn *c, const struct isf_tls_opts *o,
                      struct isf_error *e)
{
    struct isf_transport *tls;
    int rc;

    if (is_compressed(c)) /* TLS would go inside the deflate stream */
        return isf_error_set(e, ISF_EUSAGE, "STARTTLS is not possible "
                             "after COMPRESS (RFC 4978)");
    if (isf_conn_unread(c) > 0 || isf_parser_busy(c->p) || c->q.count > 0 ||
        more_waiting(c))
        return desync(c, isf_error_set(e, ISF_ETLS,
                                       "server sent data after the STARTTLS "
                                       "reply and before the TLS handshake "
                                       "(response injection); connection "
                                       "aborted"));
    rc = isf_tls_wrap(c->t, o, &tls, e);
    if (rc < 0)
        return fail(c, rc);
    c->t = tls;
    return 0;
}

int isf_conn_compress(struct isf_conn *c, struct isf_error *e)
{
    struct isf_transport *z;
    int rc;

    if (c->broken)
        return isf_error_set(e, ISF_ECLOSED, "connection is closed");
    if (is_compressed(c))
        return isf_error_set(e, ISF_EUSAGE, "COMPRESS is already active");
    if (isf_parser_busy(c->p)) /* part of a response came uncompressed */
        return desync(c, isf_error_set(e, ISF_EPROTO, "COMPRESS: a response "
                                       "straddles the start of "
                                       "compression"));
    /* Decrypted TLS bytes stay in the inner transport, which the new one
     * reads from: only our own read-ahead is pending input. */
    rc = isf_deflate_wrap(c->t, c->rbuf + c->rpos, c->rlen - c->rpos, &z, e);
    if (rc < 0)
        return desync(c, rc);
    c->t = z;
    c->rpos = c->rlen = 0;
    return 0;
}
