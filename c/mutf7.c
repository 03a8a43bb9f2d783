/* mutf7.c: modified UTF-7 mailbox names (RFC 3501 section 5.1.3):
 * UTF-8 to modified UTF-7 and back, strict in both directions. */
#include "mutf7.h"
#include "utf8.h"

#include "err.h"

#include <stdint.h>

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == ',')
        return 63;
    return -1;
}

static int utf8_put(struct isf_buf *out, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), n = 4;
    }
    if (n >= 2)
        u[n - 1] = (char)(0x80 | (cp & 0x3f));
    if (n >= 3)
        u[n - 2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    if (n == 4)
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    return isf_buf_append(out, u, n);
}

/* Encoder state: the pending bits of a shifted (base64) run. */
struct enc {
    struct isf_buf *out;
    int shifted;
    uint32_t bits;
    int nbits;
};

static int enc_unit(struct enc *e, uint32_t unit)
{
    int rc = 0;

    e->bits = (e->bits << 16) | unit;
    e->nbits += 16;
    while (e->nbits >= 6 && rc == 0) {
        e->nbits -= 6;
        rc = isf_buf_putc(e->out, b64[(e->bits >> e->nbits) & 63]);
    }
    e->bits &= (1u << e->nbits) - 1;
    return rc;
}

/* Ends a shifted run: the last bits zero-padded to a base64 digit. */
static int enc_close(struct enc *e)
{
    int rc = 0;

    if (e->nbits > 0)
        rc = isf_buf_putc(e->out, b64[(e->bits << (6 - e->nbits)) & 63]);
    e->bits = 0;
    e->nbits = 0;
    e->shifted = 0;
    return rc ? rc : isf_buf_putc(e->out, '-');
}

static int enc_char(struct enc *e, long cp)
{
    int rc = 0;

    if (cp >= 0x20 && cp <= 0x7e) {
        if (e->shifted)
            rc = enc_close(e);
        if (rc == 0)
            rc = isf_buf_putc(e->out, (char)cp);
        if (rc == 0 && cp == '&')
            rc = isf_buf_putc(e->out, '-'); /* "&-" stands for '&' */
        return rc;
    }
    if (!e->shifted) {
        e->shifted = 1;
        rc = isf_buf_putc(e->out, '&');
    }
    if (rc == 0 && cp >= 0x10000) {
        cp -= 0x10000;
        rc = enc_unit(e, 0xd800 | (uint32_t)(cp >> 10));
        cp = 0xdc00 | (cp & 0x3ff);
    }
    return rc ? rc : enc_unit(e, (uint32_t)cp);
}

int isf_mutf7_encode(struct isf_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    struct enc e = {out, 0, 0, 0};
    size_t i = 0, start = out->len;
    int rc = 0;

    while (i < n && rc == 0) {
        long cp = isf_utf8_next(u, n, &i);

        /* NUL is valid UTF-8 but never part of a mailbox name. */
        rc = cp <= 0 ? ISF_EUSAGE : enc_char(&e, cp);
    }
    if (rc == 0 && e.shifted)
        rc = enc_close(&e);
    if (rc != 0 && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

/* Decoder state for one shifted run. */
struct dec {
    uint32_t bits;
    int nbits;
    uint32_t high; /* pending high surrogate, 0 if none */
};

/* One UTF-16 unit of a run: pairs surrogates, refuses what must not be
 * shifted (printable ASCII, which has a direct form, and NUL). */
static int dec_unit(struct isf_buf *out, struct dec *d, uint32_t unit)
{
    if (d->high) {
        if (unit < 0xdc00 || unit > 0xdfff)
            return ISF_EPROTO;
        unit = 0x10000 + ((d->high - 0xd800) << 10) + (unit - 0xdc00);
        d->high = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
        d->high = unit;
        return 0;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return ISF_EPROTO;
    }
    if (unit == 0 || (unit >= 0x20 && unit <= 0x7e))
        return ISF_EPROTO;
    return utf8_put(out, unit);
}

/* Decodes the run starting after '&' at s[*i]; leaves *i after its '-'. */
static int dec_run(struct isf_buf *out, const char *s, size_t n, size_t *i)
{
    struct dec d = {0, 0, 0};
    size_t j;
    int rc;

    for (j = *i; j < n && s[j] != '-'; j++) {
        int v = b64_value((unsigned char)s[j]);

        if (v < 0)
            return ISF_EPROTO;
        d.bits = (d.bits << 6) | (uint32_t)v;
        d.nbits += 6;
        if (d.nbits >= 16) {
            d.nbits -= 16;
            rc = dec_unit(out, &d, (d.bits >> d.nbits) & 0xffff);
            if (rc)
                return rc;
            d.bits &= (1u << d.nbits) - 1;
        }
    }
    /* Unterminated, an unpaired high surrogate, a whole spare digit or
     * non-zero padding bits all mean the run was not made by an encoder. */
    if (j == n || d.high || d.nbits >= 6 || d.bits != 0)
        return ISF_EPROTO;
    *i = j + 1;
    return 0;
}

static int dec_all(struct isf_buf *out, const char *s, size_t n)
{
    size_t i = 0, run_end = (size_t)-1;
    int rc = 0;

    while (i < n && rc == 0) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch > 0x7e)
            return ISF_EPROTO;
        if (ch != '&') {
            rc = isf_buf_putc(out, (char)ch);
            i++;
        } else if (i + 1 < n && s[i + 1] == '-') {
            rc = isf_buf_putc(out, '&');
            i += 2;
        } else if (i == run_end) {
            return ISF_EPROTO; /* two adjacent runs: not canonical */
        } else {
            i++;
            rc = dec_run(out, s, n, &i);
            run_end = i;
        }
    }
    return rc;
}

int isf_mutf7_decode(struct isf_buf *out, const char *s, size_t n)
{
    size_t start = out->len;
    int rc = dec_all(out, s, n);

    if (rc != 0 && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
