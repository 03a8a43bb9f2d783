/* err.h: the one table of error codes of the core library, and the detail
 * record that carries a code, its class and a readable message.
 * Core functions return 0 or a negative ISF_E* code; they never exit. */
#ifndef ISF_ERR_H
#define ISF_ERR_H

#include <stddef.h>

enum isf_err {
    ISF_OK = 0,
    ISF_ENOMEM = -1,   /* allocation failed */
    ISF_ELIMIT = -2,   /* a configured limit was exceeded */
    ISF_EPROTO = -3,   /* the peer broke the protocol */
    ISF_EIO = -4,      /* a system call failed */
    ISF_ETIMEOUT = -5, /* no progress within the timeout */
    ISF_ECLOSED = -6,  /* the peer closed the connection */
    ISF_ETLS = -7,     /* TLS handshake, verification or record failure */
    ISF_EUSAGE = -8,   /* the caller asked for something invalid */
    ISF_ECONNECT = -9, /* could not resolve or connect */
    ISF_ERR_MIN = -9
};

/* A failure with its code and a message for people; msg is always
 * NUL-terminated and never holds secrets. */
struct isf_error {
    int code;
    char msg[512];
};

/* Short stable name ("protocol", "tls", ...) used as the Lua error kind. */
const char *isf_err_kind(int code);

/* Fills e (if not NULL) and returns code, so callers can write
 * `return isf_error_set(e, ISF_EPROTO, "bad byte %02x", c);`. */
int isf_error_set(struct isf_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void isf_error_clear(struct isf_error *e);

#endif
