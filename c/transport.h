/* transport.h: the byte-stream interface every transport fills in (TCP,
 * TLS over another transport, a subprocess's stdin/stdout), and their
 * constructors. All transports are file-descriptor based and non-blocking;
 * timeouts are enforced with poll(2). */
#ifndef ISF_TRANSPORT_H
#define ISF_TRANSPORT_H

#include <stddef.h>

#include "err.h"

struct isf_transport;

struct isf_transport_ops {
    const char *name; /* "tcp", "tls", "proc" */
    /* Read up to len bytes, waiting at most timeout_ms (< 0: forever).
     * Returns > 0 bytes read, or a negative code: ISF_ECLOSED at end of
     * stream, ISF_ETIMEOUT, ISF_EIO, ISF_ETLS. */
    long (*read)(struct isf_transport *t, void *buf, size_t len,
                 int timeout_ms, struct isf_error *e);
    /* Write all len bytes (waiting at most timeout_ms for each stall).
     * Returns 0 or a negative code. */
    int (*write)(struct isf_transport *t, const void *buf, size_t len,
                 int timeout_ms, struct isf_error *e);
    /* Release everything, including the inner transport if any, and free
     * t. Never fails; safe to call once. */
    void (*close)(struct isf_transport *t);
    /* Bytes already decrypted/buffered inside the transport and readable
     * without touching the fd (TLS); NULL means none. */
    size_t (*pending)(struct isf_transport *t);
};

/* The common head of every transport; the implementation may allocate a
 * larger struct with this as its first member. */
struct isf_transport {
    const struct isf_transport_ops *ops;
    int rfd; /* fd to read from */
    int wfd; /* fd to write to (same as rfd for sockets) */
};

/* TCP connect to host:port (IPv4 or IPv6, every address tried in turn)
 * within timeout_ms. On success *out owns a new transport. */
int isf_tcp_connect(const char *host, const char *port, int timeout_ms,
                    struct isf_transport **out, struct isf_error *e);

/* Run command with /bin/sh -c, talking over its stdin/stdout; stderr is
 * inherited. Closing the transport closes the pipes and reaps the child
 * (SIGTERM after a short grace period). */
int isf_proc_spawn(const char *command, struct isf_transport **out,
                   struct isf_error *e);

struct isf_tls_opts {
    const char *servername; /* for SNI and hostname verification */
    const char *ca_file;    /* NULL: system trust store */
    const char *ca_path;
    int verify;             /* 1 (default): verify peer and hostname */
    int timeout_ms;         /* for the handshake */
};

/* TLS client handshake over inner (TLS 1.2 minimum, ALPN "imap", SNI,
 * peer and hostname verification unless opts->verify == 0). On success *out
 * owns inner; on failure inner is left open and still owned by the caller.
 * A verification failure is ISF_ETLS with OpenSSL's reason in e->msg. */
int isf_tls_wrap(struct isf_transport *inner, const struct isf_tls_opts *opts,
                 struct isf_transport **out, struct isf_error *e);

/* COMPRESS=DEFLATE (RFC 4978) over inner: raw deflate both ways. pending
 * holds bytes already read from inner after the server's OK, which are
 * compressed data. On success *out owns inner; on failure inner is left
 * open and still owned by the caller. */
int isf_deflate_wrap(struct isf_transport *inner, const void *pending,
                     size_t npending, struct isf_transport **out,
                     struct isf_error *e);

/* Convenience wrappers over ops. */
static inline long isf_transport_read(struct isf_transport *t, void *buf,
                                      size_t len, int timeout_ms,
                                      struct isf_error *e)
{
    return t->ops->read(t, buf, len, timeout_ms, e);
}

static inline int isf_transport_write(struct isf_transport *t,
                                      const void *buf, size_t len,
                                      int timeout_ms, struct isf_error *e)
{
    return t->ops->write(t, buf, len, timeout_ms, e);
}

static inline void isf_transport_close(struct isf_transport *t)
{
    if (t)
        t->ops->close(t);
}

#endif
