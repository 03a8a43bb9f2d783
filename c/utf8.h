/* utf8.h: UTF-8 as RFC 3629 defines it (no overlong forms, surrogates or
 * code points above U+10FFFF), for the encoder and modified UTF-7. */
#ifndef ISF_UTF8_H
#define ISF_UTF8_H

#include <stddef.h>

/* Reads one code point at s[*i] (*i < n) and advances *i; -1 for an
 * invalid sequence (truncated, overlong, surrogate, above U+10FFFF), with
 * *i left where it was. */
long isf_utf8_next(const unsigned char *s, size_t n, size_t *i);

/* 1 when s[0..n) is valid UTF-8. */
int isf_utf8_valid(const char *s, size_t n);

#endif
