/* utf8.c: UTF-8 validation (see utf8.h). */
#include "utf8.h"

long isf_utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char b = s[*i];
    size_t len, k;
    long cp, min;

    if (b < 0x80) {
        (*i)++;
        return b;
    }
    if (b >= 0xc2 && b <= 0xdf)
        len = 2, cp = b & 0x1f, min = 0x80;
    else if (b >= 0xe0 && b <= 0xef)
        len = 3, cp = b & 0x0f, min = 0x800;
    else if (b >= 0xf0 && b <= 0xf4)
        len = 4, cp = b & 0x07, min = 0x10000;
    else
        return -1;
    if (n - *i < len)
        return -1;
    for (k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += len;
    return cp;
}

int isf_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n)
        if (isf_utf8_next(u, n, &i) < 0)
            return 0;
    return 1;
}
