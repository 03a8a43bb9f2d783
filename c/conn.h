/* conn.h: one IMAP connection in C: a transport, the response parser fed
 * from a bounded read-ahead buffer, the session state, and the
 * bookkeeping of commands in flight: sending a command part by part as
 * continuations allow, handing each response to the reader of the
 * command it belongs to and holding the others in a bounded queue.
 * Deciding what to send is the caller's business. */
#ifndef ISF_CONN_H
#define ISF_CONN_H

#include "parser.h"
#include "queue.h"
#include "session.h"
#include "transport.h"

#define ISF_CONN_RBUF 65536

struct isf_conn {
    struct isf_transport *t;
    struct isf_parser *p;
    struct isf_session s;
    char rbuf[ISF_CONN_RBUF];
    size_t rpos, rlen;   /* rbuf[rpos..rlen) was read but not parsed yet */
    int ready;           /* the parser holds a response handed out */
    int broken;          /* the stream is out of sync or closed */
    int desync;          /* the parser failed: buffered bytes are noise */
    struct isf_queue q;  /* responses held for other readers */
    struct isf_queued *held;  /* queued response handed out last */
    struct isf_owner owner;   /* owner of the response handed out last */
    /* Called for every response as it comes off the wire (the protocol
     * trace); it must not fail or touch the connection. */
    void (*on_wire)(void *ctx, const struct isf_response *r);
    void *wire_ctx;
    long long deadline_ms; /* monotonic ms by which the current call must
                              end (a command's deadline), 0 for none */
};

/* Milliseconds on the monotonic clock, for deadline_ms. */
long long isf_conn_now_ms(void);

/* Takes ownership of t (also on failure). limits may be NULL. */
int isf_conn_new(struct isf_transport *t, const struct isf_limits *limits,
                 struct isf_conn **out, struct isf_error *e);
/* Closes the transport and frees everything; NULL is fine. */
void isf_conn_free(struct isf_conn *c);

/* The next response for the reader of tag's command, in *out (valid until
 * the next call), with its owner in c->owner: held responses first, then
 * the wire. A response belongs to tag's reader when tag owns it, when no
 * command does (unsolicited data, continuations) or when its command was
 * abandoned (stale: the reader applies its state changes and drops it);
 * responses of other commands in flight are held for their readers. With
 * tag NULL every response is for the caller. A completion for a tag never
 * sent is ignored. timeout_ms bounds each wait for bytes, c->deadline_ms
 * (when set) the whole call. ISF_ETIMEOUT leaves the connection usable;
 * any other failure marks it broken. */
int isf_conn_read(struct isf_conn *c, const char *tag, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e);

/* isf_conn_read(c, NULL, ...). */
int isf_conn_next(struct isf_conn *c, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e);

/* Sends an encoded command whose tag the session has reserved: writes it
 * segment by segment, waiting for the server's "+" before each
 * synchronizing literal; what arrives meanwhile is held for its reader.
 * Returns 0 when sent whole, 1 when the server refused the command before
 * its literal (the NO/BAD is held for tag's reader), or a negative code
 * (the tag is then forgotten; a failure after the first byte breaks the
 * connection). */
int isf_conn_send(struct isf_conn *c, const char *tag, const char *wire,
                  const size_t *seg_end, size_t nseg, size_t len,
                  int timeout_ms, struct isf_error *e);

int isf_conn_write(struct isf_conn *c, const void *data, size_t len,
                   int timeout_ms, struct isf_error *e);

/* Bytes received but not consumed by the parser, including bytes the
 * transport holds (decrypted TLS records). */
size_t isf_conn_unread(const struct isf_conn *c);

/* The fd the connection reads from, for poll(2). */
int isf_conn_fd(const struct isf_conn *c);

/* 1 when a read would find something without touching the fd: a held
 * response, unparsed bytes, bytes inside the transport, or a broken
 * stream (the read reports why). */
int isf_conn_has_input(const struct isf_conn *c);

/* Switch to TLS after a STARTTLS OK. Refuses (ISF_ETLS) when any byte is
 * waiting after the OK: that is response injection (RFC 9051 11.1). */
int isf_conn_starttls(struct isf_conn *c, const struct isf_tls_opts *o,
                      struct isf_error *e);

/* Switch to COMPRESS=DEFLATE (RFC 4978) right after the server's OK to
 * COMPRESS: the bytes read after the OK and not parsed yet are compressed
 * data, handed to the new transport. Any failure marks the connection
 * broken (the server already compresses). */
int isf_conn_compress(struct isf_conn *c, struct isf_error *e);

#endif
