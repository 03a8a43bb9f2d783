/* transport_tcp.c: the TCP transport: name resolution, a connect to each
 * address in turn under one deadline, and non-blocking socket I/O. */
#define _DEFAULT_SOURCE 1 /* SOCK_NONBLOCK, SOCK_CLOEXEC */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"
#include "transport_util.h"

static long tcp_read(struct isf_transport *t, void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    return isf_fd_read(t->rfd, buf, len, isf_deadline(timeout_ms),
                       "tcp read", e);
}

static int tcp_write(struct isf_transport *t, const void *buf, size_t len,
                     int timeout_ms, struct isf_error *e)
{
    return isf_fd_write(t->wfd, 1, buf, len, timeout_ms, "tcp write", e);
}

static void tcp_close(struct isf_transport *t)
{
    /* close(2) may report EINTR, but the fd is released regardless on
     * Linux, so it is never retried. */
    close(t->rfd);
    free(t);
}

static const struct isf_transport_ops tcp_ops = {
    "tcp", tcp_read, tcp_write, tcp_close, NULL,
};

/* The numeric address of ai for messages ("127.0.0.1", "::1"). */
static void addr_text(const struct addrinfo *ai, char *out, size_t size)
{
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)size,
                    NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, size, "?");
}

/* Our own deadline passed (as opposed to the kernel's ETIMEDOUT). */
#define DEADLINE_PASSED (-1)

/* Finish a connect that returned EINPROGRESS: 0, an errno value, or
 * DEADLINE_PASSED. */
static int connect_wait(int fd, long long deadline)
{
    int err = 0, r;
    socklen_t elen = sizeof err;

    r = isf_wait_fd(fd, POLLOUT, deadline, "connect", NULL);
    if (r == ISF_ETIMEOUT)
        return DEADLINE_PASSED;
    if (r < 0)
        return errno ? errno : EIO;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        return errno;
    return err;
}

/* One address: a connected non-blocking socket, or -1 with *err set. */
static int connect_one(const struct addrinfo *ai, long long deadline,
                       int *err)
{
    int fd, r;

    fd = socket(ai->ai_family,
                ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    /* On a non-blocking socket EINTR, like EINPROGRESS, means the
     * connection goes on in the background. */
    if (r < 0 && (errno == EINPROGRESS || errno == EINTR))
        *err = connect_wait(fd, deadline);
    else
        *err = r < 0 ? errno : 0;
    if (*err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int resolve(const char *host, const char *port,
                   struct addrinfo **res, struct isf_error *e)
{
    struct addrinfo hints;
    int r;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(host, port, &hints, res);
    if (r == 0)
        return 0;
    return isf_error_set(e, ISF_ECONNECT, "cannot resolve \"%s\": %s", host,
                         r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
}

/* Tune a connected socket; failures only cost performance. */
static void tune(int fd)
{
    int one = 1;

    /* IMAP is request/response: do not hold small commands back. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Notice dead peers during long IDLEs. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

static int wrap_fd(int fd, struct isf_transport **out, struct isf_error *e)
{
    struct isf_transport *t = malloc(sizeof *t);

    if (t == NULL) {
        close(fd);
        return isf_error_set(e, ISF_ENOMEM, "tcp: out of memory");
    }
    t->ops = &tcp_ops;
    t->rfd = t->wfd = fd;
    *out = t;
    return 0;
}

/* The resolver is not bounded by timeout_ms (getaddrinfo has no timeout);
 * connecting is, across all the addresses together. */
int isf_tcp_connect(const char *host, const char *port, int timeout_ms,
                    struct isf_transport **out, struct isf_error *e)
{
    long long deadline = isf_deadline(timeout_ms);
    struct addrinfo *res, *ai;
    char addr[NI_MAXHOST] = "?";
    int fd = -1, err = 0, r;

    if (host == NULL || port == NULL || out == NULL)
        return isf_error_set(e, ISF_EUSAGE, "tcp: missing host or port");
    r = resolve(host, port, &res, e);
    if (r < 0)
        return r;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        addr_text(ai, addr, sizeof addr);
        fd = connect_one(ai, deadline, &err);
        if (fd < 0 && err == DEADLINE_PASSED)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0 && err == DEADLINE_PASSED)
        return isf_error_set(e, ISF_ETIMEOUT,
                             "connect to %s port %s: timed out after %d ms",
                             addr, port, timeout_ms);
    if (fd < 0)
        return isf_error_set(e, ISF_ECONNECT, "connect to %s port %s: %s",
                             addr, port,
                             err ? strerror(err) : "no address");
    tune(fd);
    return wrap_fd(fd, out, e);
}
