/* buf.c: the capped byte buffer (see buf.h). */
#include "buf.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void isf_buf_init(struct isf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void isf_buf_free(struct isf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void isf_buf_reset(struct isf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int isf_buf_reserve(struct isf_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return ISF_ELIMIT;
    need = b->len + n;
    if (need <= b->cap && b->data)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 4 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    p = realloc(b->data, cap + 1);
    if (p == NULL)
        return ISF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int isf_buf_append(struct isf_buf *b, const void *p, size_t n)
{
    int rc = isf_buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int isf_buf_putc(struct isf_buf *b, char c)
{
    return isf_buf_append(b, &c, 1);
}

int isf_buf_puts(struct isf_buf *b, const char *s)
{
    return isf_buf_append(b, s, strlen(s));
}

int isf_buf_printf(struct isf_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ISF_EUSAGE;
    if ((size_t)n < sizeof small)
        return isf_buf_append(b, small, (size_t)n);
    if (isf_buf_reserve(b, (size_t)n) != 0)
        return ISF_ELIMIT;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void isf_buf_consume(struct isf_buf *b, size_t n)
{
    if (n >= b->len) {
        isf_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
