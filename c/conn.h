/* conn.h: one IMAP connection in C: a transport, the response parser fed
 * from a bounded read-ahead buffer, and the session state. It moves bytes
 * and tracks state; deciding what to send is the caller's business. */
#ifndef ISF_CONN_H
#define ISF_CONN_H

#include "parser.h"
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
    int tag_known;       /* last tagged response matched a command sent */
    char last_name[ISF_CMDNAME_MAX]; /* command the last tagged response
                                        completed */
};

/* Takes ownership of t (also on failure). limits may be NULL. */
int isf_conn_new(struct isf_transport *t, const struct isf_limits *limits,
                 struct isf_conn **out, struct isf_error *e);
/* Closes the transport and frees everything; NULL is fine. */
void isf_conn_free(struct isf_conn *c);

/* Reads until the next complete response and stores it in *out (valid
 * until the next call). Updates the session state. ISF_ETIMEOUT leaves the
 * connection usable; any other failure marks it broken. */
int isf_conn_next(struct isf_conn *c, int timeout_ms,
                  const struct isf_response **out, struct isf_error *e);

int isf_conn_write(struct isf_conn *c, const void *data, size_t len,
                   int timeout_ms, struct isf_error *e);

/* Bytes received but not consumed by the parser, including bytes the
 * transport holds (decrypted TLS records). */
size_t isf_conn_unread(const struct isf_conn *c);

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
