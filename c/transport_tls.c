/* transport_tls.c: the TLS client transport over any fd-based transport
 * (TCP, STARTTLS on TCP, a subprocess's pipes): OpenSSL with TLS 1.2+,
 * peer and hostname verification, SNI and ALPN "imap" (RFC 9051 and
 * RFC 8314 for implicit TLS, RFC 7301 for ALPN, RFC 6125 for names). */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "transport.h"
#include "transport_util.h"

struct tls_transport {
    struct isf_transport base;
    struct isf_transport *inner;
    SSL_CTX *ctx;
    SSL *ssl;
    /* 0, or the code every later read and write returns: ISF_ECLOSED
     * after the peer closed, ISF_ETLS/ISF_EIO after a fatal error. */
    int dead;
    /* OpenSSL forbids SSL_shutdown after a fatal error, and a write that
     * timed out halfway through a record leaves nothing safe to send. */
    int no_shutdown;
    /* 1 when our MSG_NOSIGNAL socket BIO carries the records. */
    int own_bio;
};

/* The outcome of one SSL_* call, read right after it, with the error
 * queue cleared before it so stale errors never leak into the result. */
struct tls_step {
    int ret;     /* the call's return value */
    int err;     /* SSL_get_error() */
    int errnum;  /* errno after the call, for SSL_ERROR_SYSCALL */
};

enum tls_op { OP_CONNECT, OP_READ, OP_WRITE, OP_SHUTDOWN };

/* A socket BIO of our own: recv(2) and send(2) with MSG_NOSIGNAL, so a
 * peer that closed gives EPIPE instead of SIGPIPE without touching the
 * signal mask around every read and write. The fd stays open on free. */
static int sock_bio_write(BIO *b, const char *buf, int len)
{
    ssize_t n;

    errno = 0;
    n = send(BIO_get_fd(b, NULL), buf, (size_t)len, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_bio_read(BIO *b, char *buf, int len)
{
    ssize_t n;

    if (buf == NULL || len <= 0)
        return 0;
    errno = 0;
    n = recv(BIO_get_fd(b, NULL), buf, (size_t)len, 0);
    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static int sock_bio_puts(BIO *b, const char *str)
{
    return sock_bio_write(b, str, (int)strlen(str));
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_C_SET_FD:
        BIO_set_data(b, (void *)(intptr_t)*(int *)ptr);
        BIO_set_shutdown(b, (int)num);
        BIO_set_init(b, 1);
        return 1;
    case BIO_C_GET_FD:
        if (!BIO_get_init(b))
            return -1;
        if (ptr != NULL)
            *(int *)ptr = (int)(intptr_t)BIO_get_data(b);
        return (long)(intptr_t)BIO_get_data(b);
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    case BIO_CTRL_DUP:
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int sock_bio_create(BIO *b)
{
    BIO_set_data(b, (void *)(intptr_t)-1);
    BIO_set_init(b, 0);
    return 1;
}

static BIO_METHOD *sock_method;

static void make_sock_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
                                     BIO_TYPE_DESCRIPTOR,
                                 "imapsift socket");

    if (m == NULL)
        return;
    if (!BIO_meth_set_write(m, sock_bio_write) ||
        !BIO_meth_set_read(m, sock_bio_read) ||
        !BIO_meth_set_puts(m, sock_bio_puts) ||
        !BIO_meth_set_ctrl(m, sock_bio_ctrl) ||
        !BIO_meth_set_create(m, sock_bio_create)) {
        BIO_meth_free(m);
        return;
    }
    sock_method = m;
}

/* 1 when fd is a socket (our BIO serves it), 0 for pipes. */
static int is_socket_fd(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Puts our socket BIO under ssl for fd; 1 on success, 0 to fall back. */
static int set_sock_bio(SSL *ssl, int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    BIO *b;

    pthread_once(&once, make_sock_method);
    if (sock_method == NULL || !is_socket_fd(fd))
        return 0;
    b = BIO_new(sock_method);
    if (b == NULL)
        return 0;
    BIO_set_fd(b, fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, b, b);
    /* Whole socket reads (up to a record and beyond), not a header then
     * a body per record. */
    SSL_set_read_ahead(ssl, 1);
    return 1;
}

static struct tls_step tls_call(SSL *ssl, int guarded_free, enum tls_op op,
                                void *buf, int len)
{
    struct isf_sigpipe_guard g;
    struct tls_step s;
    int guard = !guarded_free;

    /* Over pipes OpenSSL writes with write(2): guard SIGPIPE there. */
    if (guard)
        isf_sigpipe_block(&g);
    ERR_clear_error();
    errno = 0;
    if (op == OP_CONNECT)
        s.ret = SSL_connect(ssl);
    else if (op == OP_READ)
        s.ret = SSL_read(ssl, buf, len);
    else if (op == OP_WRITE)
        s.ret = SSL_write(ssl, buf, len);
    else
        s.ret = SSL_shutdown(ssl);
    s.err = SSL_get_error(ssl, s.ret);
    s.errnum = errno;
    if (guard)
        isf_sigpipe_restore(&g);
    return s;
}

/* The reason of the first queued OpenSSL error, or fallback. */
static const char *queued_reason(const char *fallback)
{
    unsigned long code = ERR_peek_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;

    return r ? r : fallback;
}

/* True when the peer closed the connection without close_notify. */
static int unexpected_eof(const struct tls_step *s)
{
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (s->err == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return 1;
#endif
    return s->err == SSL_ERROR_SYSCALL && s->errnum == 0 &&
           ERR_peek_error() == 0;
}

/* Wait for what OpenSSL asked for: 1 to retry the call, 0 when s is no
 * retry, or a negative code (ISF_ETIMEOUT once deadline passes). */
static int tls_wait(struct tls_transport *t, const struct tls_step *s,
                    long long deadline, const char *what,
                    struct isf_error *e)
{
    int r;

    if (s->err == SSL_ERROR_WANT_READ)
        r = isf_wait_fd(t->base.rfd, POLLIN, deadline, what, e);
    else if (s->err == SSL_ERROR_WANT_WRITE)
        r = isf_wait_fd(t->base.wfd, POLLOUT, deadline, what, e);
    else
        return 0;
    return r < 0 ? r : 1;
}

/* Classify a failed read or write, remember it for later calls, and
 * leave the error queue empty. */
static int tls_fail(struct tls_transport *t, const struct tls_step *s,
                    const char *what, struct isf_error *e)
{
    int r;

    if (s->err == SSL_ERROR_ZERO_RETURN) {
        r = isf_error_set(e, ISF_ECLOSED, "%s: connection closed by peer",
                          what);
    } else if (unexpected_eof(s)) {
        r = isf_error_set(e, ISF_ECLOSED,
                          "%s: connection closed by peer without TLS "
                          "close_notify", what);
        t->no_shutdown = 1;
    } else if (s->err == SSL_ERROR_SYSCALL && s->errnum != 0) {
        /* EPIPE or a reset: the peer is gone, whichever came first. */
        int gone = s->errnum == EPIPE || s->errnum == ECONNRESET;
        r = isf_error_set(e, gone ? ISF_ECLOSED : ISF_EIO,
                          "%s: %s", what, strerror(s->errnum));
        t->no_shutdown = 1;
    } else {
        r = isf_error_set(e, ISF_ETLS, "%s: %s", what,
                          queued_reason("TLS protocol error"));
        t->no_shutdown = 1;
    }
    ERR_clear_error();
    t->dead = r;
    return r;
}

static int tls_dead(struct tls_transport *t, const char *what,
                    struct isf_error *e)
{
    return isf_error_set(e, t->dead, "%s: connection already %s", what,
                         t->dead == ISF_ECLOSED ? "closed" : "failed");
}

static long tls_read(struct isf_transport *bt, void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    struct tls_transport *t = (struct tls_transport *)bt;
    long long deadline = isf_deadline(timeout_ms);
    struct tls_step s;
    int r;

    if (len == 0)
        return isf_error_set(e, ISF_EUSAGE, "TLS read: empty buffer");
    if (t->dead)
        return tls_dead(t, "TLS read", e);
    for (;;) {
        s = tls_call(t->ssl, t->own_bio, OP_READ, buf,
                     len > INT_MAX ? INT_MAX : (int)len);
        if (s.ret > 0)
            return s.ret;
        r = tls_wait(t, &s, deadline, "TLS read", e);
        if (r < 0)
            return r; /* a timeout leaves the connection usable */
        if (r == 0)
            return tls_fail(t, &s, "TLS read", e);
    }
}

/* Send one chunk of at most INT_MAX bytes; SSL_write without partial
 * writes returns only once all of it is in records. */
static int tls_write_chunk(struct tls_transport *t, const void *p, int n,
                           int timeout_ms, struct isf_error *e)
{
    struct tls_step s;
    int r;

    for (;;) {
        s = tls_call(t->ssl, t->own_bio, OP_WRITE, (void *)p, n);
        if (s.ret > 0)
            return 0;
        /* Each stall gets the full timeout. */
        r = tls_wait(t, &s, isf_deadline(timeout_ms), "TLS write", e);
        if (r == 0)
            return tls_fail(t, &s, "TLS write", e);
        if (r < 0) {
            /* SSL_write must be retried with the same bytes, which the
             * caller will not do: the stream is unusable for writing. */
            t->dead = r;
            t->no_shutdown = 1;
            return r;
        }
    }
}

static int tls_write(struct isf_transport *bt, const void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    struct tls_transport *t = (struct tls_transport *)bt;
    const char *p = buf;
    int n, r;

    if (t->dead)
        return tls_dead(t, "TLS write", e);
    while (len > 0) {
        n = len > INT_MAX ? INT_MAX : (int)len;
        r = tls_write_chunk(t, p, n, timeout_ms, e);
        if (r < 0)
            return r;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Decrypted bytes not yet returned. Without read-ahead OpenSSL takes one
 * record at a time from the fd, so anything else is still in the kernel
 * where poll(2) sees it. */
static size_t tls_pending(struct isf_transport *bt)
{
    struct tls_transport *t = (struct tls_transport *)bt;
    int n = SSL_pending(t->ssl);

    /* With read-ahead OpenSSL may hold raw bytes of records not yet
     * decrypted, which poll(2) no longer sees: count them as pending. */
    if (n <= 0 && SSL_has_pending(t->ssl))
        return 1;
    return n > 0 ? (size_t)n : 0;
}

/* Frees the TLS state; never fails, never waits for the peer. */
static void tls_free(struct tls_transport *t)
{
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    ERR_clear_error();
    free(t);
}

/* One non-blocking SSL_shutdown sends our close_notify if the socket
 * takes it; the peer's answer is not awaited (RFC 8446 6.1 allows it). */
static void tls_close(struct isf_transport *bt)
{
    struct tls_transport *t = (struct tls_transport *)bt;
    struct isf_transport *inner = t->inner;

    if (!t->no_shutdown)
        tls_call(t->ssl, t->own_bio, OP_SHUTDOWN, NULL, 0);
    tls_free(t);
    isf_transport_close(inner);
}

static const struct isf_transport_ops tls_ops = {
    "tls", tls_read, tls_write, tls_close, tls_pending,
};

/* A context for one connection: TLS 1.2 minimum and, when verifying, the
 * trust store. NULL with e set on failure. */
static SSL_CTX *make_ctx(const struct isf_tls_opts *o, struct isf_error *e)
{
    SSL_CTX *ctx;
    int ok;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        isf_error_set(e, ISF_ETLS, "TLS: cannot create context: %s",
                      queued_reason("unknown error"));
        return NULL;
    }
    ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
    if (ok && o->verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (o->ca_file != NULL || o->ca_path != NULL)
            ok = SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_path);
        else
            ok = SSL_CTX_set_default_verify_paths(ctx);
    } else if (ok) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (!ok) {
        isf_error_set(e, ISF_ETLS, "TLS: cannot load CA certificates%s%s: %s",
                      o->ca_file || o->ca_path ? " from " : "",
                      o->ca_file ? o->ca_file : o->ca_path ? o->ca_path : "",
                      queued_reason("unknown error"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int is_ip_literal(const char *s)
{
    unsigned char a[16];

    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The name the certificate must match: a DNS name (RFC 6125) or an IP
 * address (iPAddress subjectAltName). 1 on success. */
static int set_peer_name(SSL *ssl, const char *name)
{
    if (is_ip_literal(name))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name);
}

/* The SSL object on the inner transport's fds, with ALPN, SNI (never for
 * IP literals, RFC 6066 3) and the expected peer name. */
static int make_ssl(struct tls_transport *t, const struct isf_tls_opts *o,
                    struct isf_error *e)
{
    static const unsigned char alpn[] = "\x04imap";
    const char *name = o->servername;
    int named = name != NULL && *name != '\0';
    int ok;

    ERR_clear_error();
    t->ssl = SSL_new(t->ctx);
    if (t->ssl == NULL)
        return isf_error_set(e, ISF_ETLS, "TLS: cannot create session: %s",
                             queued_reason("unknown error"));
    if (t->base.rfd == t->base.wfd && set_sock_bio(t->ssl, t->base.rfd))
        ok = t->own_bio = 1;
    else if (t->base.rfd == t->base.wfd)
        ok = SSL_set_fd(t->ssl, t->base.rfd);
    else
        ok = SSL_set_rfd(t->ssl, t->base.rfd) &&
             SSL_set_wfd(t->ssl, t->base.wfd);
    /* SSL_set_alpn_protos alone returns 0 on success. */
    ok = ok && SSL_set_alpn_protos(t->ssl, alpn, sizeof alpn - 1) == 0;
    if (ok && named && !is_ip_literal(name))
        ok = SSL_set_tlsext_host_name(t->ssl, name) == 1;
    if (ok && named && o->verify)
        ok = set_peer_name(t->ssl, name);
    if (!ok)
        return isf_error_set(e, ISF_ETLS, "TLS: cannot set up session: %s",
                             queued_reason("invalid server name"));
    return 0;
}

/* The message for a failed verification, with OpenSSL's reason. */
static int verify_error(long vr, const char *name, struct isf_error *e)
{
    const char *why = X509_verify_cert_error_string(vr);

    if (vr == X509_V_ERR_HOSTNAME_MISMATCH ||
        vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
        return isf_error_set(e, ISF_ETLS,
                             "certificate verify failed: %s (the "
                             "certificate is not valid for \"%s\")",
                             why, name);
    return isf_error_set(e, ISF_ETLS, "certificate verify failed: %s", why);
}

static int handshake_error(struct tls_transport *t, const struct tls_step *s,
                           const struct isf_tls_opts *o,
                           struct isf_error *e)
{
    long vr = SSL_get_verify_result(t->ssl);

    if (o->verify && vr != X509_V_OK)
        return verify_error(vr, o->servername, e);
    if (unexpected_eof(s))
        return isf_error_set(e, ISF_ETLS, "TLS handshake failed: "
                             "connection closed by peer");
    if (s->err == SSL_ERROR_SYSCALL && s->errnum != 0)
        return isf_error_set(e, ISF_ETLS, "TLS handshake failed: %s",
                             strerror(s->errnum));
    return isf_error_set(e, ISF_ETLS, "TLS handshake failed: %s",
                         queued_reason("protocol error"));
}

/* Belt and braces: with SSL_VERIFY_PEER OpenSSL already aborts the
 * handshake on a bad chain, but never accept a session without a
 * verified certificate. */
static int check_peer(struct tls_transport *t, const struct isf_tls_opts *o,
                      struct isf_error *e)
{
    X509 *cert;

    if (!o->verify)
        return 0;
    cert = SSL_get_peer_certificate(t->ssl);
    if (cert == NULL)
        return isf_error_set(e, ISF_ETLS, "certificate verify failed: "
                             "the server sent no certificate");
    X509_free(cert);
    if (SSL_get_verify_result(t->ssl) != X509_V_OK)
        return verify_error(SSL_get_verify_result(t->ssl), o->servername, e);
    return 0;
}

static int handshake(struct tls_transport *t, const struct isf_tls_opts *o,
                     struct isf_error *e)
{
    long long deadline = isf_deadline(o->timeout_ms);
    struct tls_step s;
    int r;

    for (;;) {
        s = tls_call(t->ssl, t->own_bio, OP_CONNECT, NULL, 0);
        if (s.ret == 1)
            r = check_peer(t, o, e);
        else if ((r = tls_wait(t, &s, deadline, "TLS handshake", e)) == 0)
            r = handshake_error(t, &s, o, e);
        if (r != 1)
            break;
    }
    ERR_clear_error();
    return r;
}

int isf_tls_wrap(struct isf_transport *inner, const struct isf_tls_opts *opts,
                 struct isf_transport **out, struct isf_error *e)
{
    struct tls_transport *t;
    int r;

    if (inner == NULL || opts == NULL || out == NULL)
        return isf_error_set(e, ISF_EUSAGE, "TLS: missing transport");
    if (opts->verify && (opts->servername == NULL || !*opts->servername))
        return isf_error_set(e, ISF_EUSAGE,
                             "TLS: verification needs a server name");
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return isf_error_set(e, ISF_ENOMEM, "TLS: out of memory");
    t->base.ops = &tls_ops;
    t->base.rfd = inner->rfd;
    t->base.wfd = inner->wfd;
    t->ctx = make_ctx(opts, e);
    r = t->ctx ? make_ssl(t, opts, e) : ISF_ETLS;
    if (r == 0)
        r = handshake(t, opts, e);
    if (r < 0) {
        tls_free(t); /* SSL_free leaves the inner fds open (BIO_NOCLOSE) */
        return r;
    }
    t->inner = inner;
    *out = &t->base;
    return 0;
}
