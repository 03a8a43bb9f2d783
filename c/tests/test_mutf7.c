/* test_mutf7.c: modified UTF-7 (mutf7.c): RFC 3501 vectors both ways,
 * round trips of every code point, and refused inputs both ways. */
#include "mutf7.h"

#include "err.h"
#include "tests/check.h"

#include <stdio.h>
#include <string.h>



/* Runs f on in (after a prefix already in the buffer) and compares the
 * appended bytes with want, or checks f fails with code and leaves the
 * buffer as it was. */
static void run(int (*f)(struct isf_buf *, const char *, size_t),
                const char *in, size_t n, const char *want, int code,
                int line)
{
    struct isf_buf b;
    int rc;

    isf_buf_init(&b, 1 << 16);
    isf_buf_puts(&b, "pre:");
    rc = f(&b, in, n);
    if (rc != code) {
        fprintf(stderr, "%s:%d: rc %d, want %d\n", __FILE__, line, rc, code);
        failures++;
    } else if (code == 0 && (b.len != 4 + strlen(want) ||
                             memcmp(b.data + 4, want, b.len - 4) != 0)) {
        fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, line,
                b.data + 4, want);
        failures++;
    } else if (code != 0 && (b.len != 4 || strcmp(b.data, "pre:") != 0)) {
        fprintf(stderr, "%s:%d: output changed on failure\n", __FILE__,
                line);
        failures++;
    }
    isf_buf_free(&b);
}

#define ENC(utf8, m) run(isf_mutf7_encode, S(utf8), m, 0, __LINE__)
#define DEC(m, utf8) run(isf_mutf7_decode, S(m), utf8, 0, __LINE__)
#define BOTH(utf8, m) (ENC(utf8, m), DEC(m, utf8))
#define BAD_ENC(utf8) run(isf_mutf7_encode, S(utf8), "", ISF_EUSAGE, __LINE__)
#define BAD_DEC(m) run(isf_mutf7_decode, S(m), "", ISF_EPROTO, __LINE__)

static void test_vectors(void)
{
    BOTH("", "");
    BOTH("INBOX", "INBOX");
    BOTH("Entw\xc3\xbcrfe", "Entw&APw-rfe");
    BOTH("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-");
    BOTH("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
         "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
         "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    BOTH("A&B", "A&-B");
    BOTH("&", "&-");
    BOTH("&&", "&-&-");
    /* U+1F600 as the surrogate pair D83D DE00. */
    BOTH("\xf0\x9f\x98\x80", "&2D3eAA-");
    BOTH("a\xf0\x9f\x98\x80z", "a&2D3eAA-z");
    /* Runs of 1, 2 and 3 units end with 4, 2 and 0 padding bits. */
    BOTH("\xc3\xa9", "&AOk-");
    BOTH("\xc3\xa9\xc3\xa9", "&AOkA6Q-");
    BOTH("\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-");
    /* A run then '&', and controls, which have no direct form. */
    BOTH("\xc3\xbc&", "&APw-&-");
    BOTH("a\tb", "a&AAk-b");
    BOTH("\x7f", "&AH8-");
    BOTH("\xef\xbf\xbf", "&,,8-");
    BOTH("\xf4\x8f\xbf\xbf", "&2,,f,w-");
    /* '+' and ',' base64 digits, '/' as a plain hierarchy separator. */
    BOTH("\xef\xbf\xbe/\xef\xbf\xbe", "&,,4-/&,,4-");
}

static void test_bad_utf8(void)
{
    BAD_ENC("\x80");             /* lone continuation byte */
    BAD_ENC("a\xc3");            /* truncated */
    BAD_ENC("\xe6\x97");         /* truncated */
    BAD_ENC("\xc3\x28");         /* bad continuation */
    BAD_ENC("\xc0\xaf");         /* overlong '/' */
    BAD_ENC("\xc1\xbf");         /* overlong */
    BAD_ENC("\xe0\x80\xaf");     /* overlong */
    BAD_ENC("\xf0\x80\x80\xaf"); /* overlong */
    BAD_ENC("\xed\xa0\x80");     /* surrogate D800 */
    BAD_ENC("\xed\xbf\xbf");     /* surrogate DFFF */
    BAD_ENC("\xf4\x90\x80\x80"); /* above U+10FFFF */
    BAD_ENC("\xf5\x80\x80\x80");
    BAD_ENC("\xff");
    BAD_ENC("a\0b"); /* NUL is never part of a mailbox name */
}

static void test_bad_mutf7(void)
{
    BAD_DEC("&ZeVnLIqe");      /* unterminated */
    BAD_DEC("&");              /* unterminated */
    BAD_DEC("a&");             /* unterminated */
    BAD_DEC("&Ze*-");          /* not a base64 digit */
    BAD_DEC("&/wA-");          /* '/' is not in the modified alphabet */
    BAD_DEC("&AOk=-");         /* no padding */
    BAD_DEC("&&-");            /* '&' inside a run */
    BAD_DEC("&AOl-");          /* non-zero leftover bits */
    BAD_DEC("&A-");            /* a spare digit */
    BAD_DEC("&AOkA-");         /* a spare digit after a unit */
    BAD_DEC("&AGE-");          /* 'a' shifted: has a direct form */
    BAD_DEC("&ACY-");          /* '&' shifted */
    BAD_DEC("&AH4-");          /* '~' shifted */
    BAD_DEC("&AAA-");          /* NUL */
    BAD_DEC("&2D0-");          /* unpaired high surrogate */
    BAD_DEC("&3gA-");          /* unpaired low surrogate */
    BAD_DEC("&2D0A6Q-");       /* high surrogate then a non-surrogate */
    BAD_DEC("&AOk-&AOk-");     /* two adjacent runs: not canonical */
    BAD_DEC("Entw\xc3\xbcrfe"); /* raw 8-bit */
    BAD_DEC("a\tb");           /* raw control */
    BAD_DEC("a\0b");
}

/* Every scalar value, alone and between ASCII, survives a round trip. */
static void test_round_trip(void)
{
    struct isf_buf m, u;
    unsigned long cp;
    char in[8];
    size_t n;
    int bad = 0;

    isf_buf_init(&m, 64);
    isf_buf_init(&u, 64);
    for (cp = 1; cp <= 0x10ffff && bad < 5; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        n = 0;
        in[n++] = 'x';
        if (cp < 0x80) {
            in[n++] = (char)cp;
        } else if (cp < 0x800) {
            in[n++] = (char)(0xc0 | cp >> 6);
            in[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            in[n++] = (char)(0xe0 | cp >> 12);
            in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            in[n++] = (char)(0xf0 | cp >> 18);
            in[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in[n++] = (char)(0x80 | (cp & 0x3f));
        }
        in[n++] = 'y';
        isf_buf_reset(&m);
        isf_buf_reset(&u);
        if (isf_mutf7_encode(&m, in, n) != 0 ||
            isf_mutf7_decode(&u, m.data, m.len) != 0 || u.len != n ||
            memcmp(u.data, in, n) != 0) {
            fprintf(stderr, "round trip failed for U+%04lX\n", cp);
            bad++;
        }
    }
    failures += bad;
    isf_buf_free(&m);
    isf_buf_free(&u);
}

static void test_limits(void)
{
    struct isf_buf b;

    /* The output cap is honoured and the buffer is left as it was. */
    isf_buf_init(&b, 6);
    CHECK(isf_mutf7_encode(&b, S("\xc3\xa9\xc3\xa9")) == ISF_ELIMIT);
    CHECK(b.len == 0);
    CHECK(isf_mutf7_encode(&b, S("\xc3\xa9")) == 0 && b.len == 5);
    isf_buf_reset(&b);
    CHECK(isf_mutf7_decode(&b, S("abcdefg")) == ISF_ELIMIT);
    CHECK(b.len == 0);
    isf_buf_free(&b);
}

int main(void)
{
    test_vectors();
    test_bad_utf8();
    test_bad_mutf7();
    test_round_trip();
    test_limits();
    return check_report("test_mutf7");
}
