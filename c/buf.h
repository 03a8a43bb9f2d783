/* buf.h: the growable byte buffer with a hard cap, used everywhere bytes
 * are collected. Memory grows with the bytes actually appended, never with
 * a size announced by the peer. */
#ifndef ISF_BUF_H
#define ISF_BUF_H

#include <stddef.h>

struct isf_buf {
    char *data;  /* NULL until the first append; NUL-terminated after */
    size_t len;  /* bytes in use */
    size_t cap;  /* bytes allocated (excluding the terminating NUL) */
    size_t max;  /* hard cap on len; appending past it fails */
};

void isf_buf_init(struct isf_buf *b, size_t max);
void isf_buf_free(struct isf_buf *b);
/* Forget the contents, keep the allocation. */
void isf_buf_reset(struct isf_buf *b);
/* 0, ISF_ELIMIT when len would pass max, ISF_ENOMEM. b is unchanged on
 * failure. */
int isf_buf_append(struct isf_buf *b, const void *p, size_t n);
int isf_buf_putc(struct isf_buf *b, char c);
int isf_buf_puts(struct isf_buf *b, const char *s);
int isf_buf_printf(struct isf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Make room for n more bytes without changing len. */
int isf_buf_reserve(struct isf_buf *b, size_t n);
/* Drop the first n bytes (n <= len). */
void isf_buf_consume(struct isf_buf *b, size_t n);

#endif
