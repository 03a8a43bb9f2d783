/* fuzz_mutf7.c: libFuzzer target for modified UTF-7 (mutf7.c, RFC 3501
 * section 5.1.3). The input is decoded as a mailbox name from a server
 * and encoded as a UTF-8 name from a script. Decoding gives UTF-8 that
 * encodes back to the very input (the decoder takes only canonical
 * forms); encoding gives printable ASCII that decodes back; both refuse
 * exactly what they must, leave the buffer as it was when they do, and
 * stay within a fixed multiple of the input's size. */
#include "err.h"
#include "mutf7.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An independent reading of UTF-8 (RFC 3629): 1 when s is well formed
 * with no NUL, no surrogate, nothing above U+10FFFF and no overlong
 * form. */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;

    while (i < n) {
        uint8_t b = s[i];

        len = b < 0x80       ? 1
              : b >> 5 == 6  ? 2
              : b >> 4 == 14 ? 3
              : b >> 3 == 30 ? 4
                             : 0;
        if (len == 0 || b == 0 || n - i < len)
            return 0;
        cp = len == 1 ? b : b & (0x7f >> len);
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int printable(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* Runs f on in after a prefix; returns its code, the output (after the
 * prefix) in out. A failure must leave exactly the prefix. */
static int apply(int (*f)(struct isf_buf *, const char *, size_t),
                 struct isf_buf *out, const void *in, size_t n)
{
    int rc;

    isf_buf_init(out, 8 * n + 64);
    if (isf_buf_puts(out, "pre") != 0)
        abort();
    rc = f(out, in, n);
    if (rc != 0 && (out->len != 3 || memcmp(out->data, "pre", 3) != 0))
        abort();
    return rc;
}

static int same(const struct isf_buf *b, const void *s, size_t n)
{
    return b->len == 3 + n && memcmp(b->data + 3, s, n) == 0;
}

/* Decoding: UTF-8 out, at most 9 bytes for every 8 in (a base64 digit
 * carries 6 bits; 16 of them make at most 3 bytes of UTF-8). */
static void check_decode(const uint8_t *data, size_t size)
{
    struct isf_buf d, e;
    int rc = apply(isf_mutf7_decode, &d, data, size);

    if (rc != 0 && rc != ISF_EPROTO)
        abort();
    if (rc == 0) {
        if (!utf8_ok((const uint8_t *)d.data + 3, d.len - 3) ||
            (d.len - 3) * 8 > size * 9)
            abort();
        if (apply(isf_mutf7_encode, &e, d.data + 3, d.len - 3) != 0 ||
            !same(&e, data, size))
            abort(); /* the decoder took a form no encoder makes */
        isf_buf_free(&e);
    }
    isf_buf_free(&d);
}

/* Encoding: refused exactly when the input is not UTF-8 (or holds NUL);
 * else printable ASCII, at most 5 bytes for 1 ("\1" -> "&AAE-"). */
static void check_encode(const uint8_t *data, size_t size)
{
    struct isf_buf e, d;
    int rc = apply(isf_mutf7_encode, &e, data, size);

    if (rc != (utf8_ok(data, size) ? 0 : ISF_EUSAGE))
        abort();
    if (rc == 0) {
        if (!printable(e.data + 3, e.len - 3) || e.len - 3 > 5 * size)
            abort();
        if (apply(isf_mutf7_decode, &d, e.data + 3, e.len - 3) != 0 ||
            !same(&d, data, size))
            abort(); /* no round trip */
        isf_buf_free(&d);
    }
    isf_buf_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    check_encode(data, size);
    return 0;
}
