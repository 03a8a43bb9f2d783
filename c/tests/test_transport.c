/* test_transport.c: the TCP, TLS and subprocess transports against real
 * listening sockets, a forked OpenSSL server and real child processes. */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "transport.h"
#include "tests/check.h"


static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly n bytes (several reads may be needed): n or a code. */
static long read_exact(struct isf_transport *t, char *buf, size_t n,
                       struct isf_error *e)
{
    size_t got = 0;
    long r;

    while (got < n) {
        r = isf_transport_read(t, buf + got, n - got, 3000, e);
        if (r < 0)
            return r;
        got += (size_t)r;
    }
    return (long)n;
}

/* Read up to and including '\n' into buf (NUL-terminated). */
static long read_line(struct isf_transport *t, char *buf, size_t size,
                      struct isf_error *e)
{
    size_t got = 0;
    long r;

    while (got + 1 < size) {
        r = isf_transport_read(t, buf + got, 1, 3000, e);
        if (r < 0)
            return r;
        got++;
        if (buf[got - 1] == '\n')
            break;
    }
    buf[got] = '\0';
    return (long)got;
}

static int fd_flags_ok(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
           (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* ---- proc ---------------------------------------------------------- */

static void test_proc_cat(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    char buf[16];

    CHECK_E(isf_proc_spawn("cat", &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(strcmp(t->ops->name, "proc") == 0, e);
    CHECK_E(fd_flags_ok(t->rfd) && fd_flags_ok(t->wfd), e);
    CHECK_E(t->ops->pending == NULL, e);
    CHECK_E(isf_transport_write(t, "hello\n", 6, 1000, &e) == 0, e);
    CHECK_E(read_exact(t, buf, 6, &e) == 6, e);
    CHECK_E(memcmp(buf, "hello\n", 6) == 0, e);
    isf_transport_close(t);
}

static void test_proc_eof(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    char buf[16];

    CHECK_E(isf_proc_spawn("printf 'hello'", &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(read_exact(t, buf, 5, &e) == 5, e);
    CHECK_E(memcmp(buf, "hello", 5) == 0, e);
    CHECK_E(isf_transport_read(t, buf, sizeof buf, 1000, &e) == ISF_ECLOSED,
          e);
    CHECK_E(e.code == ISF_ECLOSED, e);
    isf_transport_close(t);
}

/* Every child so far was reaped: no zombie, no child left at all. */
static void check_no_children(void)
{
    struct isf_error e = {0};
    pid_t r = waitpid(-1, NULL, WNOHANG);

    CHECK_E(r == -1 && errno == ECHILD, e);
}

static void test_proc_exit(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;

    CHECK_E(isf_proc_spawn("exit 3", &t, &e) == 0, e);
    if (t == NULL)
        return;
    isf_transport_close(t);
    check_no_children();
}

/* A write to a child that is gone: ISF_ECLOSED, and neither death by
 * SIGPIPE nor a SIGPIPE left pending nor a changed signal mask. */
static void test_proc_sigpipe(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    sigset_t before, after, pending;
    char buf[8];
    int i, r = 0;

    signal(SIGPIPE, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    CHECK_E(isf_proc_spawn("exit 0", &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(isf_transport_read(t, buf, sizeof buf, 2000, &e) == ISF_ECLOSED,
          e);
    /* Exit closes stdin along with stdout; allow for slow bookkeeping. */
    for (i = 0; i < 100 && r == 0; i++) {
        r = isf_transport_write(t, "data", 4, 1000, &e);
        if (r == 0)
            usleep(10000);
    }
    CHECK_E(r == ISF_ECLOSED, e);
    CHECK_E(strstr(e.msg, "Broken pipe") != NULL, e);
    sigpending(&pending);
    CHECK_E(!sigismember(&pending, SIGPIPE), e);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK_E(sigismember(&before, SIGPIPE) == sigismember(&after, SIGPIPE), e);
    isf_transport_close(t);
}

/* A child that never reads: the write stalls and times out; close waits
 * the grace period, then SIGTERM ends it. Runs in a thread. */
static void *test_proc_term(void *arg)
{
    static char big[1 << 20];
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    long long t0;

    CHECK_E(isf_proc_spawn("exec sleep 10", &t, &e) == 0, e);
    if (t == NULL)
        return NULL;
    t0 = now_ms();
    CHECK_E(isf_transport_write(t, big, sizeof big, 200, &e) == ISF_ETIMEOUT,
          e);
    CHECK_E(now_ms() - t0 >= 150 && now_ms() - t0 < 800, e);
    t0 = now_ms();
    isf_transport_close(t);
    CHECK_E(now_ms() - t0 >= 1900 && now_ms() - t0 < 2900, e);
    return NULL;
}

/* A child that ignores SIGTERM is killed. Runs in a thread. */
static void *test_proc_kill(void *arg)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    long long t0;

    CHECK_E(isf_proc_spawn("trap '' TERM; exec sleep 10", &t, &e) == 0, e);
    if (t == NULL)
        return NULL;
    t0 = now_ms();
    isf_transport_close(t);
    CHECK_E(now_ms() - t0 >= 2900 && now_ms() - t0 < 4000, e);
    return NULL;
}

/* ---- tcp ----------------------------------------------------------- */

/* A socket bound to 127.0.0.1 on a free port, listening with backlog
 * (backlog < 0: bound only, so connections are refused). */
static int local_socket(int backlog, char port[16])
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        (backlog >= 0 && listen(fd, backlog) < 0) ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        perror("local_socket");
        exit(2);
    }
    snprintf(port, 16, "%u", (unsigned)ntohs(a.sin_port));
    return fd;
}

static void test_tcp_roundtrip(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    char port[16], buf[16];
    int lfd = local_socket(8, port), cfd;
    long long t0;

    CHECK_E(isf_tcp_connect("127.0.0.1", port, 2000, &t, &e) == 0, e);
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (t == NULL || cfd < 0)
        goto out;
    CHECK_E(strcmp(t->ops->name, "tcp") == 0 && t->rfd == t->wfd, e);
    CHECK_E(fd_flags_ok(t->rfd), e);
    CHECK_E(isf_transport_write(t, "ping\n", 5, 1000, &e) == 0, e);
    CHECK_E(recv(cfd, buf, 5, MSG_WAITALL) == 5 && !memcmp(buf, "ping\n", 5),
          e);
    CHECK_E(send(cfd, "pong\n", 5, 0) == 5, e);
    CHECK_E(read_exact(t, buf, 5, &e) == 5 && !memcmp(buf, "pong\n", 5), e);
    /* Nothing more is sent: the read times out after about 300 ms. */
    t0 = now_ms();
    CHECK_E(isf_transport_read(t, buf, sizeof buf, 300, &e) == ISF_ETIMEOUT,
          e);
    CHECK_E(now_ms() - t0 >= 280 && now_ms() - t0 < 800, e);
    close(cfd);
    CHECK_E(isf_transport_read(t, buf, sizeof buf, 1000, &e) == ISF_ECLOSED,
          e);
out:
    isf_transport_close(t);
    close(lfd);
}

/* IPv6: "::1" resolves to an AF_INET6 address and connects. */
static void test_tcp_ipv6(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    struct sockaddr_in6 a;
    socklen_t alen = sizeof a;
    char port[16], buf[8];
    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd;

    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    CHECK_E(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(lfd, 4) == 0 &&
              getsockname(lfd, (struct sockaddr *)&a, &alen) == 0,
          e);
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin6_port));
    CHECK_E(isf_tcp_connect("::1", port, 2000, &t, &e) == 0, e);
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (t != NULL && cfd >= 0) {
        CHECK_E(send(cfd, "v6\n", 3, 0) == 3, e);
        CHECK_E(read_exact(t, buf, 3, &e) == 3 && !memcmp(buf, "v6\n", 3), e);
        close(cfd);
    }
    isf_transport_close(t);
    close(lfd);
}

/* Writes to a peer that is gone fail (EPIPE or a reset) without
 * killing the process with SIGPIPE. */
static void test_tcp_dead_peer(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    char port[16];
    int lfd = local_socket(8, port), cfd, i, r = 0;

    signal(SIGPIPE, SIG_DFL);
    CHECK_E(isf_tcp_connect("localhost", port, 2000, &t, &e) == 0, e);
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    close(cfd);
    close(lfd);
    if (t == NULL)
        return;
    for (i = 0; i < 100 && r == 0; i++) {
        r = isf_transport_write(t, "x", 1, 1000, &e);
        if (r == 0)
            usleep(10000);
    }
    CHECK_E(r == ISF_ECLOSED || r == ISF_EIO, e);
    isf_transport_close(t);
}

static void test_tcp_refused(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    char port[16], want[64];
    int fd = local_socket(-1, port);

    CHECK_E(isf_tcp_connect("127.0.0.1", port, 2000, &t, &e) == ISF_ECONNECT,
          e);
    CHECK_E(t == NULL, e);
    snprintf(want, sizeof want, "connect to 127.0.0.1 port %s: ", port);
    CHECK_E(strstr(e.msg, want) == e.msg, e);
    CHECK_E(strstr(e.msg, "refused") != NULL, e);
    close(fd);
}

static void test_tcp_unresolvable(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;

    CHECK_E(isf_tcp_connect("nohost.invalid", "143", 2000, &t, &e) ==
              ISF_ECONNECT,
          e);
    CHECK_E(strstr(e.msg, "cannot resolve \"nohost.invalid\": ") == e.msg, e);
}

/* A listener with a full accept queue drops SYNs, so connect hangs. */
static void test_tcp_connect_timeout(void)
{
    struct isf_error e = {0};
    struct isf_transport *t = NULL;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    char port[16];
    int lfd = local_socket(0, port), fill[2], i;
    long long t0;

    getsockname(lfd, (struct sockaddr *)&a, &alen);
    for (i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET,
                         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&a, alen);
    }
    usleep(50000); /* let the first fill the queue */
    t0 = now_ms();
    CHECK_E(isf_tcp_connect("127.0.0.1", port, 300, &t, &e) == ISF_ETIMEOUT,
          e);
    CHECK_E(now_ms() - t0 >= 280 && now_ms() - t0 < 800, e);
    CHECK_E(strstr(e.msg, "timed out") != NULL, e);
    for (i = 0; i < 2; i++)
        close(fill[i]);
    close(lfd);
}

/* ---- tls ----------------------------------------------------------- */

static char tmpdir[] = "/tmp/isf-test-transport-XXXXXX";
static char ca_file[128], cert_file[128], key_file[128];

static const char cert_config[] =
    "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
    "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[v3_srv]\nbasicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
    "authorityKeyIdentifier = keyid\n";

/* Run a shell command in dir; on failure show its log. */
static int run_in(const char *dir, const char *command)
{
    char cmd[1024];
    int r;

    snprintf(cmd, sizeof cmd, "cd %s && { %s; } >log 2>&1", dir, command);
    if (system(cmd) == 0)
        return 0;
    fprintf(stderr, "command failed: %s\n", cmd);
    snprintf(cmd, sizeof cmd, "cat %s/log >&2", dir);
    r = system(cmd);
    (void)r;
    return -1;
}

/* A throwaway CA and a server certificate for localhost and 127.0.0.1,
 * made with the openssl command in a fresh temporary directory. */
static int make_certs(void)
{
    char path[160];
    FILE *f;

    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/cnf", tmpdir);
    f = fopen(path, "w");
    if (f == NULL || fputs(cert_config, f) < 0 || fclose(f) != 0)
        return -1;
    snprintf(ca_file, sizeof ca_file, "%s/ca.pem", tmpdir);
    snprintf(cert_file, sizeof cert_file, "%s/srv.pem", tmpdir);
    snprintf(key_file, sizeof key_file, "%s/srv.key", tmpdir);
    return run_in(tmpdir,
                  "openssl req -x509 -config cnf -extensions v3_ca "
                  "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                  "-keyout ca.key -out ca.pem -days 2 -subj /CN=isf-test-ca"
                  " && openssl req -new -config cnf -newkey ec "
                  "-pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                  "-keyout srv.key -out srv.csr -subj /CN=isf-test-server"
                  " && openssl x509 -req -in srv.csr -CA ca.pem "
                  "-CAkey ca.key -set_serial 2 -days 2 -extfile cnf "
                  "-extensions v3_srv -out srv.pem");
}

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x04imap";
    unsigned char *sel;

    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Greet with what the client offered, then echo records until EOF;
 * "quit\n" makes the server send close_notify and hang up. */
static void serve_one(SSL *ssl)
{
    const unsigned char *alpn = NULL;
    const char *sni;
    unsigned int alen = 0;
    char buf[16384];
    int n;

    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    n = snprintf(buf, sizeof buf, "alpn=%.*s sni=%s %s\n", (int)alen,
                 alen ? (const char *)alpn : "", sni ? sni : "-",
                 SSL_get_version(ssl));
    SSL_write(ssl, buf, n);
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        if (n == 5 && memcmp(buf, "quit\n", 5) == 0)
            break;
        if (SSL_write(ssl, buf, n) <= 0)
            break;
    }
    SSL_shutdown(ssl);
}

static void tls_server(int lfd)
{
    struct timeval tv = {5, 0};
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    if (ctx == NULL || SSL_CTX_use_certificate_file(ctx, cert_file,
                                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
        _exit(3);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1)
            serve_one(ssl);
        SSL_free(ssl);
        ERR_clear_error();
        close(fd);
    }
}

/* TCP to the server, then TLS with the given options. */
static int tls_connect(const char *port, const char *name, const char *ca,
                       int verify, struct isf_transport **out,
                       struct isf_error *e)
{
    struct isf_tls_opts o = {name, ca, NULL, verify, 3000};
    struct isf_transport *tcp = NULL;
    int r;

    *out = NULL;
    r = isf_tcp_connect("127.0.0.1", port, 2000, &tcp, e);
    if (r < 0)
        return r;
    r = isf_tls_wrap(tcp, &o, out, e);
    if (r < 0) {
        /* On failure the caller still owns the inner transport, and
         * its socket is still open. */
        if (fcntl(tcp->rfd, F_GETFD) < 0) {
            failures++;
            fprintf(stderr, "FAIL: isf_tls_wrap closed the inner fd\n");
        }
        isf_transport_close(tcp);
    }
    return r;
}

static void test_tls_ok(const char *port)
{
    static char big[65536], back[65536];
    struct isf_error e = {0};
    struct isf_transport *t;
    char line[128];
    size_t i;

    CHECK_E(tls_connect(port, "localhost", ca_file, 1, &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(strcmp(t->ops->name, "tls") == 0 && t->ops->pending, e);
    /* One byte out of the greeting record leaves the rest pending. */
    CHECK_E(isf_transport_read(t, line, 1, 2000, &e) == 1, e);
    CHECK_E(t->ops->pending(t) > 0, e);
    CHECK_E(read_line(t, line + 1, sizeof line - 1, &e) > 0, e);
    CHECK_E(strncmp(line, "alpn=imap sni=localhost TLSv1.", 30) == 0, e);
    CHECK_E(t->ops->pending(t) == 0, e);
    for (i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 1);
    CHECK_E(isf_transport_write(t, big, sizeof big, 2000, &e) == 0, e);
    CHECK_E(read_exact(t, back, sizeof back, &e) == (long)sizeof back, e);
    CHECK_E(memcmp(big, back, sizeof big) == 0, e);
    /* The server's close_notify reads as ISF_ECLOSED, and stays so. */
    CHECK_E(isf_transport_write(t, "quit\n", 5, 2000, &e) == 0, e);
    CHECK_E(isf_transport_read(t, line, sizeof line, 2000, &e) == ISF_ECLOSED,
          e);
    CHECK_E(isf_transport_read(t, line, sizeof line, 2000, &e) == ISF_ECLOSED,
          e);
    isf_transport_close(t);
}

/* Writes to a TLS peer that hung up fail with ISF_ECLOSED (our socket
 * BIO sends with MSG_NOSIGNAL) while SIGPIPE keeps its default action
 * and stays unblocked: a SIGPIPE would end this test program. */
static void test_tls_dead_peer(const char *port)
{
    struct isf_error e = {0};
    struct isf_transport *t;
    sigset_t mask;
    int i, r = 0;

    signal(SIGPIPE, SIG_DFL);
    CHECK_E(tls_connect(port, "localhost", ca_file, 1, &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(isf_transport_write(t, "quit\n", 5, 2000, &e) == 0, e);
    for (i = 0; i < 200 && r == 0; i++) {
        r = isf_transport_write(t, "x", 1, 1000, &e);
        if (r == 0)
            usleep(10000);
    }
    CHECK_E(r == ISF_ECLOSED, e);
    CHECK_E(pthread_sigmask(SIG_SETMASK, NULL, &mask) == 0, e);
    CHECK_E(!sigismember(&mask, SIGPIPE), e);
    CHECK_E(signal(SIGPIPE, SIG_DFL) == SIG_DFL, e);
    isf_transport_close(t);
}

/* An IP literal is checked against the iPAddress SAN and sends no SNI. */
static void test_tls_ip(const char *port)
{
    struct isf_error e = {0};
    struct isf_transport *t;
    char line[128];

    CHECK_E(tls_connect(port, "127.0.0.1", ca_file, 1, &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(read_line(t, line, sizeof line, &e) > 0, e);
    CHECK_E(strncmp(line, "alpn=imap sni=- ", 16) == 0, e);
    isf_transport_close(t);
}

/* The handshake fails with code and a message containing want. */
static void expect_tls_fail(const char *port, const char *name,
                            const char *ca, int code, const char *want)
{
    struct isf_error e = {0};
    struct isf_transport *t;

    CHECK_E(tls_connect(port, name, ca, 1, &t, &e) == code, e);
    CHECK_E(t == NULL, e);
    CHECK_E(strstr(e.msg, want) != NULL, e);
    if (strstr(e.msg, want) == NULL)
        fprintf(stderr, "  expected \"%s\" in the message\n", want);
    isf_transport_close(t);
}

static void test_tls_failures(const char *port)
{
    /* Our CA is not in the system store. */
    expect_tls_fail(port, "localhost", NULL, ISF_ETLS,
                    "certificate verify failed: unable to get local issuer");
    expect_tls_fail(port, "wrong.example", ca_file, ISF_ETLS,
                    "certificate verify failed: hostname mismatch");
    expect_tls_fail(port, "wrong.example", ca_file, ISF_ETLS,
                    "\"wrong.example\"");
    expect_tls_fail(port, "127.0.0.2", ca_file, ISF_ETLS,
                    "certificate verify failed: IP address mismatch");
    /* Verification needs a name to check. */
    expect_tls_fail(port, NULL, ca_file, ISF_EUSAGE, "server name");
    expect_tls_fail(port, "localhost", "/nonexistent/ca.pem", ISF_ETLS,
                    "/nonexistent/ca.pem");
}

static void test_tls_noverify(const char *port)
{
    struct isf_error e = {0};
    struct isf_transport *t;
    char line[128];

    CHECK_E(tls_connect(port, "wrong.example", NULL, 0, &t, &e) == 0, e);
    if (t == NULL)
        return;
    CHECK_E(read_line(t, line, sizeof line, &e) > 0, e);
    CHECK_E(strncmp(line, "alpn=imap sni=wrong.example ", 28) == 0, e);
    CHECK_E(isf_transport_write(t, "abc\n", 4, 2000, &e) == 0, e);
    CHECK_E(read_exact(t, line, 4, &e) == 4 && !memcmp(line, "abc\n", 4), e);
    isf_transport_close(t);
}

/* A peer that accepts TCP but never answers the ClientHello. */
static void test_tls_timeout(void)
{
    struct isf_tls_opts o = {"localhost", NULL, NULL, 1, 300};
    struct isf_error e = {0};
    struct isf_transport *tcp = NULL, *t = NULL;
    char port[16];
    int lfd = local_socket(8, port);
    long long t0;

    CHECK_E(isf_tcp_connect("127.0.0.1", port, 2000, &tcp, &e) == 0, e);
    if (tcp != NULL) {
        t0 = now_ms();
        CHECK_E(isf_tls_wrap(tcp, &o, &t, &e) == ISF_ETIMEOUT, e);
        CHECK_E(now_ms() - t0 >= 280 && now_ms() - t0 < 800, e);
        CHECK_E(t == NULL, e);
        isf_transport_close(tcp);
    }
    close(lfd);
}

static pid_t server_pid = -1;
static char server_port[16];

/* Certificates and the forked server, made before any thread exists
 * (fork copies only the calling thread, whatever locks others hold). */
static int start_tls_server(void)
{
    int lfd;

    if (make_certs() < 0) {
        failures++;
        fprintf(stderr, "FAIL: cannot make test certificates\n");
        return -1;
    }
    lfd = local_socket(16, server_port);
    server_pid = fork();
    if (server_pid == 0)
        tls_server(lfd);
    close(lfd);
    if (server_pid < 0) {
        failures++;
        perror("FAIL: fork");
        return -1;
    }
    return 0;
}

static void stop_tls_server(void)
{
    struct isf_error e = {0};
    char cmd[200];

    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK_E(system(cmd) == 0, e);
}

int main(void)
{
    pthread_t term, killer;
    int have_server;

    /* Quick proc tests first: they check that no child exists at all. */
    test_proc_cat();
    test_proc_eof();
    test_proc_exit();
    test_proc_sigpipe();
    check_no_children();
    have_server = start_tls_server() == 0;
    /* The slow close paths run beside the rest. */
    pthread_create(&term, NULL, test_proc_term, NULL);
    pthread_create(&killer, NULL, test_proc_kill, NULL);
    test_tcp_roundtrip();
    test_tcp_ipv6();
    test_tcp_dead_peer();
    test_tcp_refused();
    test_tcp_unresolvable();
    test_tcp_connect_timeout();
    CHECK_E(have_server, (struct isf_error){0});
    if (have_server) {
        test_tls_ok(server_port);
        test_tls_ip(server_port);
        test_tls_dead_peer(server_port);
        test_tls_failures(server_port);
        test_tls_noverify(server_port);
    }
    test_tls_timeout();
    stop_tls_server();
    pthread_join(term, NULL);
    pthread_join(killer, NULL);
    check_no_children();
    return check_report("test_transport");
}
