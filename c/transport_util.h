/* transport_util.h: deadlines, poll(2) waits, fd flags and the SIGPIPE
 * guard shared by the transports (internal to transport_*.c). */
#ifndef ISF_TRANSPORT_UTIL_H
#define ISF_TRANSPORT_UTIL_H

#include <signal.h>
#include <stddef.h>

#include "err.h"

/* Milliseconds on the monotonic clock. */
long long isf_now_ms(void);

/* The absolute deadline timeout_ms from now; -1 (no deadline) when
 * timeout_ms < 0. */
long long isf_deadline(int timeout_ms);

/* Milliseconds left before deadline as a poll(2) timeout: -1 for no
 * deadline, 0 once it has passed. */
int isf_remaining_ms(long long deadline);

/* Wait until fd is ready for events (POLLIN or POLLOUT) or the deadline
 * passes. POLLHUP/POLLERR count as ready: the next read or write reports
 * the real condition. Returns 0, ISF_ETIMEOUT or ISF_EIO; what names the
 * operation in the message ("tcp read"). */
int isf_wait_fd(int fd, short events, long long deadline, const char *what,
                struct isf_error *e);

/* Set O_NONBLOCK and FD_CLOEXEC on fd. 0 or -1 with errno. */
int isf_fd_nonblock_cloexec(int fd);

/* Read from a non-blocking fd (pipe or socket) within the deadline.
 * Returns > 0, ISF_ECLOSED at end of stream, ISF_ETIMEOUT, ISF_EIO. */
long isf_fd_read(int fd, void *buf, size_t len, long long deadline,
                 const char *what, struct isf_error *e);

/* Write all len bytes to a non-blocking fd, allowing each stall
 * timeout_ms. is_socket selects send(MSG_NOSIGNAL); otherwise write(2) runs
 * under the SIGPIPE guard. Returns 0, ISF_ECLOSED (EPIPE), ISF_ETIMEOUT
 * or ISF_EIO. */
int isf_fd_write(int fd, int is_socket, const void *buf, size_t len,
                 int timeout_ms, const char *what, struct isf_error *e);

/* Keeps a write to a closed pipe or socket from killing the process
 * without touching the process-wide disposition (which belongs to the
 * host program): SIGPIPE is blocked in the calling thread for the call, a
 * SIGPIPE the call raised is consumed, then the mask is restored. A
 * SIGPIPE that was already pending before is left alone. */
struct isf_sigpipe_guard {
    sigset_t old_mask;
    int was_pending;
};

void isf_sigpipe_block(struct isf_sigpipe_guard *g);
void isf_sigpipe_restore(struct isf_sigpipe_guard *g);

#endif
