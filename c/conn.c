/* conn.c: an IMAP connection: transport + parser + session state
 * (see conn.h). */
#include "conn.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

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
    *out = c;
    return 0;
}

void isf_conn_free(struct isf_conn *c)
{
    if (c == NULL)
        return;
    isf_transport_close(c->t);
    isf_parser_free(c->p);
    free(c);
}

static int fail(struct isf_conn *c, int rc)
{
    if (rc != ISF_ETIMEOUT)
        c->broken = 1;
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

static void track(struct isf_conn *c, const struct isf_response *r)
{
    int known = isf_session_on_response(&c->s, r, c->last_name,
                                        sizeof c->last_name);
    if (known >= 0)
        c->tag_known = known;
}

int isf_conn_next(struct isf_conn *c, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e)
{
    long n;
    int rc;

    if (c->broken)
        return isf_error_set(e, ISF_ECLOSED, "connection is closed");
    if (c->ready) {
        isf_parser_release(c->p);
        c->ready = 0;
    }
    for (;;) {
        rc = feed_buffered(c, e);
        if (rc < 0)
            return fail(c, rc);
        if (rc == 1) {
            c->ready = 1;
            *out = isf_parser_response(c->p);
            track(c, *out);
            return 0;
        }
        n = isf_transport_read(c->t, c->rbuf, sizeof c->rbuf, timeout_ms, e);
        if (n < 0)
            return fail(c, (int)n);
        c->rpos = 0;
        c->rlen = (size_t)n;
    }
}

int isf_conn_write(struct isf_conn *c, const void *data, size_t len,
                   int timeout_ms, struct isf_error *e)
{
    int rc;

    if (c->broken)
        return isf_error_set(e, ISF_ECLOSED, "connection is closed");
    rc = isf_transport_write(c->t, data, len, timeout_ms, e);
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
    if (isf_conn_unread(c) > 0 || isf_parser_busy(c->p) || more_waiting(c)) {
        c->broken = 1;
        return isf_error_set(e, ISF_ETLS,
                             "server sent data after the STARTTLS reply "
                             "and before the TLS handshake (response "
                             "injection); connection aborted");
    }
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
    if (isf_parser_busy(c->p)) {
        c->broken = 1; /* part of a response came uncompressed */
        return isf_error_set(e, ISF_EPROTO, "COMPRESS: a response "
                             "straddles the start of compression");
    }
    /* Decrypted TLS bytes stay in the inner transport, which the new one
     * reads from: only our own read-ahead is pending input. */
    rc = isf_deflate_wrap(c->t, c->rbuf + c->rpos, c->rlen - c->rpos, &z, e);
    if (rc < 0) {
        c->broken = 1;
        return rc;
    }
    c->t = z;
    c->rpos = c->rlen = 0;
    return 0;
}
