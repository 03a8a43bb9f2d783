/* test_command.c: the command encoder (command.c): exact wire bytes, trace
 * text and segment ends for every argument form, and refused inputs. */
#include "command.h"
#include "tests/check.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define MAX 65536

/* Prints bytes with CR, LF and other controls visible. */
static void show(const char *label, const char *s, size_t n)
{
    size_t i;

    fprintf(stderr, "  %s: \"", label);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '\r')
            fputs("\\r", stderr);
        else if (ch == '\n')
            fputs("\\n", stderr);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(stderr, "\\x%02x", ch);
        else
            fputc(ch, stderr);
    }
    fputs("\"\n", stderr);
}

static int same(const char *got, size_t gn, const char *want, size_t wn,
                const char *label, int line)
{
    if (gn == wn && (wn == 0 || memcmp(got, want, wn) == 0))
        return 1;
    fprintf(stderr, "%s:%d: %s differs\n", __FILE__, line, label);
    show("got ", got ? got : "", got ? gn : 0);
    show("want", want, wn);
    failures++;
    return 0;
}

/* Finishes c, compares wire and trace exactly, checks the trace is one
 * line, and frees c. */
static void expect_n(struct isf_cmd *c, const char *wire, size_t wn,
                     const char *trace, int line)
{
    struct isf_error e;
    int rc = isf_cmd_finish(c, &e);

    if (rc != 0) {
        fprintf(stderr, "%s:%d: finish failed: %d %s\n", __FILE__, line, rc,
                e.msg);
        failures++;
    } else {
        same(c->wire.data, c->wire.len, wire, wn, "wire", line);
        same(c->trace.data, c->trace.len, trace, strlen(trace), "trace",
             line);
        if (memchr(c->trace.data, '\r', c->trace.len) ||
            memchr(c->trace.data, '\n', c->trace.len)) {
            fprintf(stderr, "%s:%d: trace has CR or LF\n", __FILE__, line);
            failures++;
        }
    }
    isf_cmd_free(c);
}

#define EXPECT(c, wire, trace)                                                \
    expect_n(c, wire, sizeof(wire) - 1, trace, __LINE__)

/* Finishes c expecting failure code with a message containing part. */
static void expect_fail_n(struct isf_cmd *c, int code, const char *part,
                          int line)
{
    struct isf_error e;
    int rc = isf_cmd_finish(c, &e);

    if (rc != code || e.code != code || strstr(e.msg, part) == NULL) {
        fprintf(stderr, "%s:%d: want failure %d with \"%s\", got %d \"%s\"\n",
                __FILE__, line, code, part, rc, rc ? e.msg : "");
        failures++;
    }
    isf_cmd_free(c);
}

#define EXPECT_FAIL(c, code, part) expect_fail_n(c, code, part, __LINE__)

static void test_login(void)
{
    struct isf_cmd c;

    isf_cmd_init(&c, "A1", "LOGIN", 0, MAX);
    CHECK(isf_cmd_astring(&c, S("alice")) == 0);
    CHECK(isf_cmd_secret(&c, S("p w\"d")) == 0);
    CHECK(c.nseg == 0);
    EXPECT(&c, "A1 LOGIN alice \"p w\\\"d\"\r\n", "A1 LOGIN alice ***");

    isf_cmd_init(&c, "A1", "LOGIN", 0, MAX);
    isf_cmd_astring(&c, S("alice@example.org"));
    isf_cmd_secret(&c, S("secret"));
    EXPECT(&c, "A1 LOGIN alice@example.org secret\r\n",
           "A1 LOGIN alice@example.org ***");

    /* 8-bit secret: a synchronizing literal, its length hidden too. */
    isf_cmd_init(&c, "A1", "LOGIN", 0, MAX);
    isf_cmd_astring(&c, S("bob"));
    isf_cmd_secret(&c, S("p\xc3\xa9w"));
    CHECK(c.nseg == 1 && c.seg_end[0] == strlen("A1 LOGIN bob {4}\r\n"));
    EXPECT(&c, "A1 LOGIN bob {4}\r\np\xc3\xa9w\r\n", "A1 LOGIN bob ***");

    /* Empty secret: "" on the wire, still *** in the trace. */
    isf_cmd_init(&c, "A1", "LOGIN", 0, MAX);
    isf_cmd_astring(&c, S("bob"));
    isf_cmd_secret(&c, S(""));
    EXPECT(&c, "A1 LOGIN bob \"\"\r\n", "A1 LOGIN bob ***");
}

static void test_atoms_numbers(void)
{
    struct isf_cmd c;

    isf_cmd_init(&c, "a0001", "UID STORE", 0, MAX);
    CHECK(isf_cmd_seqset(&c, S("1:5,7,9:*")) == 0);
    CHECK(isf_cmd_atom(&c, S("+FLAGS.SILENT")) == 0);
    CHECK(isf_cmd_open(&c) == 0);
    CHECK(isf_cmd_flag(&c, S("\\Seen")) == 0);
    CHECK(isf_cmd_flag(&c, S("$Junk")) == 0);
    CHECK(isf_cmd_close(&c) == 0);
    EXPECT(&c, "a0001 UID STORE 1:5,7,9:* +FLAGS.SILENT (\\Seen $Junk)\r\n",
           "a0001 UID STORE 1:5,7,9:* +FLAGS.SILENT (\\Seen $Junk)");

    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_number(&c, 0);
    isf_cmd_number(&c, 4294967295ULL);
    isf_cmd_number(&c, ULLONG_MAX);
    EXPECT(&c, "T X 0 4294967295 18446744073709551615\r\n",
           "T X 0 4294967295 18446744073709551615");

    isf_cmd_init(&c, "T", "NOOP", 0, MAX);
    EXPECT(&c, "T NOOP\r\n", "T NOOP");
}

static void test_astring_forms(void)
{
    struct isf_cmd c;

    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_astring(&c, S(""));
    isf_cmd_astring(&c, S("a\\b"));
    isf_cmd_astring(&c, S("say \"hi\""));
    isf_cmd_astring(&c, S("\\\""));
    EXPECT(&c, "T X \"\" \"a\\\\b\" \"say \\\"hi\\\"\" \"\\\\\\\"\"\r\n",
           "T X \"\" \"a\\\\b\" \"say \\\"hi\\\"\" \"\\\\\\\"\"");

    /* Every atom-special and CTL forces the quoted form; ']' is an
     * ASTRING-CHAR but quoted anyway. */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_astring(&c, S("a("));
    isf_cmd_astring(&c, S("a)"));
    isf_cmd_astring(&c, S("a{"));
    isf_cmd_astring(&c, S("a b"));
    isf_cmd_astring(&c, S("a%"));
    isf_cmd_astring(&c, S("a*"));
    isf_cmd_astring(&c, S("a]"));
    isf_cmd_astring(&c, S("a\t"));
    isf_cmd_astring(&c, S("a\x7f"));
    isf_cmd_astring(&c, S("a[b]"));
    isf_cmd_astring(&c, S("~!#$&'+,-./:;<=>?@^_`|}"));
    EXPECT(&c,
           "T X \"a(\" \"a)\" \"a{\" \"a b\" \"a%\" \"a*\" \"a]\" \"a\t\""
           " \"a\x7f\" \"a[b]\" ~!#$&'+,-./:;<=>?@^_`|}\r\n",
           "T X \"a(\" \"a)\" \"a{\" \"a b\" \"a%\" \"a*\" \"a]\" \"a\\x09\""
           " \"a\\x7f\" \"a[b]\" ~!#$&'+,-./:;<=>?@^_`|}");

    /* The trace escapes controls, C1 and bidi overrides that a quoted
     * string carries, so that showing it cannot drive a terminal. */
    isf_cmd_init(&c, "T", "SEARCH", ISF_CMD_UTF8, MAX);
    isf_cmd_string(&c, S("\x1b[2J \xc2\x9b \xe2\x80\xae \xe2\x81\xa6 "
                         "\xc3\xa9"));
    EXPECT(&c,
           "T SEARCH \"\x1b[2J \xc2\x9b \xe2\x80\xae \xe2\x81\xa6 "
           "\xc3\xa9\"\r\n",
           "T SEARCH \"\\x1b[2J \\u{9b} \\u{202e} \\u{2066} \xc3\xa9\"");

    /* string never uses an atom. */
    isf_cmd_init(&c, "T", "SEARCH", 0, MAX);
    isf_cmd_atom(&c, S("SUBJECT"));
    isf_cmd_string(&c, S("abc"));
    isf_cmd_string(&c, S(""));
    EXPECT(&c, "T SEARCH SUBJECT \"abc\" \"\"\r\n",
           "T SEARCH SUBJECT \"abc\" \"\"");
}

static void test_literals(void)
{
    struct isf_cmd c;

    /* CR/LF force a literal; its trace shows the size, not the bytes. */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_astring(&c, S("a\r\nb"));
    isf_cmd_astring(&c, S("ok"));
    CHECK(c.nseg == 1 && c.seg_end[0] == strlen("T X {4}\r\n"));
    EXPECT(&c, "T X {4}\r\na\r\nb ok\r\n", "T X {4}<4 bytes> ok");

    /* 8-bit without UTF8: a literal; with UTF8: quoted. */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_string(&c, S("\xc3\xa9t\xc3\xa9"));
    EXPECT(&c, "T X {5}\r\n\xc3\xa9t\xc3\xa9\r\n", "T X {5}<5 bytes>");
    isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
    isf_cmd_astring(&c, S("\xc3\xa9t\xc3\xa9"));
    isf_cmd_secret(&c, S("p\xc3\xa9w"));
    CHECK(c.nseg == 0);
    EXPECT(&c, "T X \"\xc3\xa9t\xc3\xa9\" \"p\xc3\xa9w\"\r\n",
           "T X \"\xc3\xa9t\xc3\xa9\" ***");
    /* ...but only valid UTF-8 may be quoted (a lone C3, an overlong
     * slash, a surrogate): anything else goes in a literal. */
    isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
    isf_cmd_astring(&c, S("a\xc3"));
    isf_cmd_astring(&c, S("\xc0\xaf"));
    isf_cmd_astring(&c, S("\xed\xa0\x80"));
    EXPECT(&c, "T X {2}\r\na\xc3 {2}\r\n\xc0\xaf {3}\r\n\xed\xa0\x80\r\n",
           "T X {2}<2 bytes> {2}<2 bytes> {3}<3 bytes>");
    /* ...but CR/LF still need a literal with UTF8. */
    isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
    isf_cmd_astring(&c, S("\xc3\xa9\n"));
    EXPECT(&c, "T X {3}\r\n\xc3\xa9\n\r\n", "T X {3}<3 bytes>");

    /* Explicit literals, including the empty one. */
    isf_cmd_init(&c, "T", "APPEND", 0, MAX);
    isf_cmd_astring(&c, S("INBOX"));
    isf_cmd_literal(&c, S("Subject: x\r\n\r\nbody\r\n"), 0);
    isf_cmd_literal(&c, S(""), 0);
    CHECK(c.nseg == 2);
    CHECK(c.seg_end[0] == strlen("T APPEND INBOX {20}\r\n"));
    CHECK(c.seg_end[1] ==
          strlen("T APPEND INBOX {20}\r\nSubject: x\r\n\r\nbody\r\n {0}\r\n"));
    EXPECT(&c, "T APPEND INBOX {20}\r\nSubject: x\r\n\r\nbody\r\n {0}\r\n\r\n",
           "T APPEND INBOX {20}<20 bytes> {0}<0 bytes>");
}

static void test_literal_plus_minus(void)
{
    struct isf_cmd c;
    static char big[4097];

    memset(big, 'x', sizeof big);
    big[0] = '\n';

    isf_cmd_init(&c, "T", "X", ISF_CMD_LITERAL_PLUS, MAX);
    isf_cmd_astring(&c, S("a\nb"));
    isf_cmd_secret(&c, S("\n"));
    isf_cmd_literal(&c, big, sizeof big, 0);
    CHECK(c.nseg == 0);
    CHECK(c.wire.len == strlen("T X {3+}\r\na\nb {1+}\r\n\n {4097+}\r\n") +
                            sizeof big);
    CHECK(memcmp(c.wire.data, "T X {3+}\r\na\nb {1+}\r\n\n {4097+}\r\n\nxx",
                 strlen("T X {3+}\r\na\nb {1+}\r\n\n {4097+}\r\n\nxx")) == 0);
    CHECK(strcmp(c.trace.data, "T X {3+}<3 bytes> *** {4097+}<4097 bytes>") ==
          0);
    isf_cmd_free(&c);

    /* LITERAL-: {n+} up to 4096 bytes, synchronizing above. */
    isf_cmd_init(&c, "T", "X", ISF_CMD_LITERAL_MINUS, MAX);
    isf_cmd_literal(&c, big, 4096, 0);
    isf_cmd_literal(&c, big, 4097, 0);
    CHECK(c.nseg == 1);
    CHECK(c.seg_end[0] == strlen("T X {4096+}\r\n") + 4096 +
                              strlen(" {4097}\r\n"));
    CHECK(strcmp(c.trace.data, "T X {4096+}<4096 bytes> {4097}<4097 bytes>") ==
          0);
    isf_cmd_free(&c);

    /* Both flags: LITERAL+ wins. */
    isf_cmd_init(&c, "T", "X", ISF_CMD_LITERAL_PLUS | ISF_CMD_LITERAL_MINUS,
                 MAX);
    isf_cmd_literal(&c, big, 4097, 0);
    CHECK(c.nseg == 0);
    CHECK(strcmp(c.trace.data, "T X {4097+}<4097 bytes>") == 0);
    isf_cmd_free(&c);
}

static void test_binary(void)
{
    struct isf_cmd c;

    isf_cmd_init(&c, "T", "APPEND", ISF_CMD_BINARY, MAX);
    isf_cmd_atom(&c, S("INBOX"));
    CHECK(isf_cmd_literal(&c, S("a\0b"), 1) == 0);
    CHECK(c.nseg == 1 && c.seg_end[0] == strlen("T APPEND INBOX ~{3}\r\n"));
    EXPECT(&c, "T APPEND INBOX ~{3}\r\na\0b\r\n",
           "T APPEND INBOX ~{3}<3 bytes>");

    isf_cmd_init(&c, "T", "APPEND", ISF_CMD_BINARY | ISF_CMD_LITERAL_PLUS,
                 MAX);
    isf_cmd_literal(&c, S("\0"), 1);
    EXPECT(&c, "T APPEND ~{1+}\r\n\0\r\n", "T APPEND ~{1+}<1 bytes>");

    isf_cmd_init(&c, "T", "APPEND", 0, MAX);
    CHECK(isf_cmd_literal(&c, S("ab"), 1) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "BINARY");

    /* RFC 6855: after ENABLE UTF8=ACCEPT, APPEND's UTF8 (literal8). */
    isf_cmd_init(&c, "T", "APPEND", ISF_CMD_UTF8, MAX);
    isf_cmd_atom(&c, S("INBOX"));
    isf_cmd_atom(&c, S("UTF8"));
    isf_cmd_open(&c);
    CHECK(isf_cmd_literal(&c, S("S\xc3\xa9\r\n"), 1) == 0);
    isf_cmd_close(&c);
    CHECK(c.nseg == 1 &&
          c.seg_end[0] == strlen("T APPEND INBOX UTF8 (~{5}\r\n"));
    EXPECT(&c, "T APPEND INBOX UTF8 (~{5}\r\nS\xc3\xa9\r\n)\r\n",
           "T APPEND INBOX UTF8 (~{5}<5 bytes>)");
    isf_cmd_init(&c, "T", "APPEND", ISF_CMD_UTF8 | ISF_CMD_LITERAL_PLUS,
                 MAX);
    isf_cmd_atom(&c, S("UTF8"));
    isf_cmd_open(&c);
    isf_cmd_literal(&c, S("x"), 1);
    isf_cmd_close(&c);
    EXPECT(&c, "T APPEND UTF8 (~{1+}\r\nx)\r\n",
           "T APPEND UTF8 (~{1+}<1 bytes>)");
}

static void test_lists_and_glue(void)
{
    struct isf_cmd c;

    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_atom(&c, S("a"));
    isf_cmd_open(&c);
    isf_cmd_atom(&c, S("b"));
    isf_cmd_open(&c);
    isf_cmd_astring(&c, S("c d"));
    isf_cmd_number(&c, 7);
    isf_cmd_close(&c);
    isf_cmd_open(&c);
    isf_cmd_close(&c);
    isf_cmd_close(&c);
    isf_cmd_atom(&c, S("e"));
    EXPECT(&c, "T X a (b (\"c d\" 7) ()) e\r\n", "T X a (b (\"c d\" 7) ()) e");

    isf_cmd_init(&c, "A7", "UID FETCH", 0, MAX);
    isf_cmd_seqset(&c, S("1:*"));
    isf_cmd_open(&c);
    isf_cmd_fetch_att(&c, S("UID"));
    isf_cmd_fetch_att(&c, S("BODY.PEEK[HEADER.FIELDS (SUBJECT)]"));
    CHECK(isf_cmd_glue(&c, S("<0.100>")) == 0);
    isf_cmd_atom(&c, S("FLAGS"));
    isf_cmd_close(&c);
    EXPECT(&c,
           "A7 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.100> "
           "FLAGS)\r\n",
           "A7 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.100> "
           "FLAGS)");

    /* Glue after a quoted string and after a list. */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_astring(&c, S("a b"));
    isf_cmd_glue(&c, S("]"));
    isf_cmd_open(&c);
    isf_cmd_close(&c);
    isf_cmd_glue(&c, S(""));
    isf_cmd_glue(&c, S("<1>"));
    EXPECT(&c, "T X \"a b\"] ()<1>\r\n", "T X \"a b\"] ()<1>");
}

static void test_refused(void)
{
    struct isf_cmd c;
    static const char *const bad_atoms[] = {
        "a\rb", "a\nb", "a\x80", "{5}", "a\tb", "a b", "(a", "a)",
        "a%", "a*", "a\"", "\\Seen", "a]", "a\x7f"};
    static const char *const bad_glue[] = {"\r\n", " X", "(", ")", "{5}",
                                           "\"", "\\", "\x80", "\t"};
    size_t i;

    for (i = 0; i < sizeof bad_atoms / sizeof *bad_atoms; i++) {
        isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
        CHECK(isf_cmd_atom(&c, bad_atoms[i], strlen(bad_atoms[i])) ==
              ISF_EUSAGE);
        CHECK(c.wire.len == strlen("T X"));
        EXPECT_FAIL(&c, ISF_EUSAGE, "invalid atom");
    }
    isf_cmd_init(&c, "T", "X", 0, MAX);
    CHECK(isf_cmd_atom(&c, S("a\0b")) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "invalid atom \"a?b\"");
    isf_cmd_init(&c, "T", "X", 0, MAX);
    CHECK(isf_cmd_atom(&c, S("")) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "empty");
    for (i = 0; i < sizeof bad_glue / sizeof *bad_glue; i++) {
        isf_cmd_init(&c, "T", "X", 0, MAX);
        isf_cmd_atom(&c, S("A"));
        CHECK(isf_cmd_glue(&c, bad_glue[i], strlen(bad_glue[i])) ==
              ISF_EUSAGE);
        EXPECT_FAIL(&c, ISF_EUSAGE, "glued");
    }

    /* NUL only in literal8. */
    isf_cmd_init(&c, "T", "X", ISF_CMD_BINARY, MAX);
    CHECK(isf_cmd_astring(&c, S("a\0")) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "NUL");
    isf_cmd_init(&c, "T", "X", ISF_CMD_BINARY, MAX);
    CHECK(isf_cmd_secret(&c, S("\0")) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "NUL");
    isf_cmd_init(&c, "T", "X", ISF_CMD_BINARY, MAX);
    CHECK(isf_cmd_literal(&c, S("a\0"), 0) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "NUL");

    /* Unbalanced lists. */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    CHECK(isf_cmd_close(&c) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "without");
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_open(&c);
    isf_cmd_open(&c);
    isf_cmd_close(&c);
    EXPECT_FAIL(&c, ISF_EUSAGE, "1 list(s) left open");

    /* Bad tags and names. */
    isf_cmd_init(&c, "A+1", "NOOP", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "tag");
    isf_cmd_init(&c, "", "NOOP", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "tag");
    isf_cmd_init(&c, "A 1", "NOOP", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "tag");
    isf_cmd_init(&c, "A1", "UID  FETCH", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "name");
    isf_cmd_init(&c, "A1", "NOOP\r\nX", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "name");
    isf_cmd_init(&c, "A1", "", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "name");
    isf_cmd_init(&c, "A1", "NOOP ", 0, MAX);
    EXPECT_FAIL(&c, ISF_EUSAGE, "name");
    isf_cmd_init(&c, "A]1", "NOOP", 0, MAX);
    EXPECT(&c, "A]1 NOOP\r\n", "A]1 NOOP");
}

static void test_sticky(void)
{
    struct isf_cmd c;
    size_t len;

    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_atom(&c, S("ok"));
    CHECK(isf_cmd_literal(&c, S("x"), 1) == ISF_EUSAGE);
    len = c.wire.len;
    /* Later calls do nothing and report the first failure. */
    CHECK(isf_cmd_atom(&c, S("more")) == ISF_EUSAGE);
    CHECK(isf_cmd_number(&c, 1) == ISF_EUSAGE);
    CHECK(isf_cmd_astring(&c, S("a b")) == ISF_EUSAGE);
    CHECK(isf_cmd_open(&c) == ISF_EUSAGE);
    CHECK(isf_cmd_close(&c) == ISF_EUSAGE);
    CHECK(isf_cmd_glue(&c, S("x")) == ISF_EUSAGE);
    CHECK(isf_cmd_atom(&c, S("a\r")) == ISF_EUSAGE);
    CHECK(c.wire.len == len);
    EXPECT_FAIL(&c, ISF_EUSAGE, "BINARY");
}

static void test_max_bytes(void)
{
    struct isf_cmd c;
    static char big[200];

    /* "T X abc\r\n" is 9 bytes: it fits 9, not 8. */
    isf_cmd_init(&c, "T", "X", 0, 9);
    isf_cmd_atom(&c, S("abc"));
    EXPECT(&c, "T X abc\r\n", "T X abc");
    isf_cmd_init(&c, "T", "X", 0, 8);
    CHECK(isf_cmd_atom(&c, S("abc")) == 0);
    EXPECT_FAIL(&c, ISF_ELIMIT, "longer than the limit of 8 bytes");

    memset(big, 'y', sizeof big);
    isf_cmd_init(&c, "T", "APPEND", 0, 100);
    CHECK(isf_cmd_literal(&c, big, sizeof big, 0) == ISF_ELIMIT);
    CHECK(isf_cmd_atom(&c, S("x")) == ISF_ELIMIT);
    EXPECT_FAIL(&c, ISF_ELIMIT, "limit of 100 bytes");

    /* Even the tag and name must fit. */
    isf_cmd_init(&c, "T", "NOOP", 0, 3);
    EXPECT_FAIL(&c, ISF_ELIMIT, "limit");
}

static void test_segments(void)
{
    struct isf_cmd c;
    char want[64];
    size_t i, pos;
    int rc = 0;

    isf_cmd_init(&c, "T", "X", 0, MAX);
    for (i = 0; i < ISF_CMD_MAX_SEGMENTS && rc == 0; i++)
        rc = isf_cmd_literal(&c, S("ab"), 0);
    CHECK(rc == 0 && c.nseg == ISF_CMD_MAX_SEGMENTS);
    /* Each segment ends right after a "{2}\r\n". */
    pos = strlen("T X");
    for (i = 0; i < c.nseg; i++) {
        pos += strlen(" {2}\r\n");
        CHECK(c.seg_end[i] == pos);
        CHECK(memcmp(c.wire.data + pos - 5, "{2}\r\n", 5) == 0);
        pos += 2;
    }
    /* Non-synchronizing literals do not count. */
    isf_cmd_free(&c);
    isf_cmd_init(&c, "T", "X", ISF_CMD_LITERAL_MINUS, MAX);
    for (i = 0; i < ISF_CMD_MAX_SEGMENTS && rc == 0; i++)
        rc = isf_cmd_literal(&c, S("ab"), 0);
    CHECK(isf_cmd_literal(&c, S("ab"), 0) == 0 && c.nseg == 0);
    isf_cmd_free(&c);

    isf_cmd_init(&c, "T", "X", 0, MAX);
    for (i = 0; i < ISF_CMD_MAX_SEGMENTS; i++)
        isf_cmd_literal(&c, S("ab"), 0);
    CHECK(isf_cmd_astring(&c, S("\n")) == ISF_ELIMIT);
    snprintf(want, sizeof want, "more than %d synchronizing",
             ISF_CMD_MAX_SEGMENTS);
    EXPECT_FAIL(&c, ISF_ELIMIT, want);
}

/* Sends each of ok[] with put and expects them on the wire, one token
 * each, then each of bad[] alone, expecting a usage failure naming what,
 * and nothing written after "T X". */
static void expect_tokens(int (*put)(struct isf_cmd *, const char *, size_t),
                          const char *const *ok, const char *wire,
                          const char *const *bad, const char *what, int line)
{
    struct isf_cmd c;
    char full[2048];
    size_t i;

    isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
    for (i = 0; ok[i]; i++)
        put(&c, ok[i], strlen(ok[i]));
    snprintf(full, sizeof full, "%s\r\n", wire);
    expect_n(&c, full, strlen(full), wire, line);
    for (i = 0; bad[i]; i++) {
        isf_cmd_init(&c, "T", "X", ISF_CMD_UTF8, MAX);
        if (put(&c, bad[i], strlen(bad[i])) != ISF_EUSAGE ||
            c.wire.len != 3) {
            fprintf(stderr, "%s:%d: \"%s\" was not refused\n", __FILE__,
                    line, bad[i]);
            failures++;
        }
        expect_fail_n(&c, ISF_EUSAGE, what, line);
    }
}

static void test_flags(void)
{
    static const char *const ok[] = {"\\Seen", "\\Deleted", "$Label1",
                                     "Junk", "\\X-Ext", "NonJunk", NULL};
    static const char *const bad[] = {
        "news \\Deleted", "\\*", "", "\\", "a b", "(\\Seen)", "\\Seen)",
        "\\\\Seen", "a\"b", "a{5}", "a]", "a%", "a*", "\\Se\ren",
        "caf\xc3\xa9", "a\x7f", NULL};
    struct isf_cmd c;

    isf_cmd_init(&c, "T", "STORE", 0, MAX);
    isf_cmd_seqset(&c, S("1"));
    isf_cmd_atom(&c, S("+FLAGS"));
    isf_cmd_open(&c);
    CHECK(isf_cmd_flag(&c, S("\\Seen")) == 0);
    CHECK(isf_cmd_flag(&c, S("$Label1")) == 0);
    isf_cmd_close(&c);
    EXPECT(&c, "T STORE 1 +FLAGS (\\Seen $Label1)\r\n",
           "T STORE 1 +FLAGS (\\Seen $Label1)");
    expect_tokens(isf_cmd_flag, ok,
                  "T X \\Seen \\Deleted $Label1 Junk \\X-Ext NonJunk", bad,
                  "invalid flag", __LINE__);
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_flag(&c, S("\\*"));
    EXPECT_FAIL(&c, ISF_EUSAGE, "PERMANENTFLAGS");
    isf_cmd_init(&c, "T", "X", 0, MAX);
    isf_cmd_flag(&c, S("news \\Deleted"));
    EXPECT_FAIL(&c, ISF_EUSAGE, "invalid flag \"news \\Deleted\"");
}

static void test_seqsets(void)
{
    static const char *const ok[] = {"1",   "1:5,7,10:*", "*",  "$",
                                     "*:4", "4294967295", "2,1", NULL};
    static const char *const bad[] = {
        "", "0", "01", "1:0", "4294967296", "1,", ",1", "1::2", "1:*:3",
        "$,1", "$$", "1 2", "a", "1:5)", "1\r\n", "-1", "1.5", NULL};

    expect_tokens(isf_cmd_seqset, ok,
                  "T X 1 1:5,7,10:* * $ *:4 4294967295 2,1", bad,
                  "invalid message set", __LINE__);
}

static void test_fetch_atts(void)
{
    static const char *const ok[] = {
        "ENVELOPE",
        "flags",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
        "X-GM-LABELS",
        "BODY[]",
        "BODY[]<0.100>",
        "body.peek[header.fields (subject from)]<0.100>",
        "BODY.PEEK[HEADER.FIELDS.NOT (X-Spam \"Odd)Name\" \"q\\\"\")]",
        "BODY[1.2.HEADER]",
        "BODY[1.2.MIME]",
        "BODY[3.TEXT]<5.4294967295>",
        "BODY[4.1]",
        "BODY.PEEK[TEXT]",
        "BINARY[]",
        "BINARY.PEEK[1.2]<0.10>",
        "BINARY.SIZE[1]",
        NULL};
    static const char *const bad[] = {
        "",
        "FOO",
        "ALL",
        "ENVELOPE FLAGS",
        "(FLAGS)",
        "BODY.PEEK",
        "BODY[",
        "BODY[]]",
        "BODY[] \\Deleted",
        "BODY[HEADER.FIELDS]",
        "BODY[HEADER.FIELDS ()]",
        "BODY[HEADER.FIELDS (A B]",
        "BODY[HEADER.FIELDS (A  B)]",
        "BODY[HEADER.FIELDS (\"A)]",
        "BODY[HEADER.FIELDS (\"A\\x\")]",
        "BODY[HEADER.FIELDS (A{5}\r\n)]",
        "BODY[HEADER.FIELDS (A\x80)]",
        "BODY[MIME]",
        "BODY[0]",
        "BODY[1.]",
        "BODY[1.FOO]",
        "BODY[HEADERX]",
        "BODY[]<0>",
        "BODY[]<0.0>",
        "BODY[]<a.1>",
        "BODY[]<0.4294967296>",
        "BODY[]<0.1>x",
        "BODY<0.1>",
        "FLAGS[]",
        "BINARY",
        "BINARY[TEXT]",
        "BINARY[1.MIME]",
        "BINARY.SIZE[1]<0.1>",
        "X-GM-",
        "X-GM-A B",
        "RFC822.SIZE\r\n",
        NULL};

    expect_tokens(isf_cmd_fetch_att, ok,
                  "T X ENVELOPE flags INTERNALDATE RFC822 RFC822.HEADER"
                  " RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ"
                  " EMAILID THREADID SAVEDATE X-GM-LABELS BODY[]"
                  " BODY[]<0.100>"
                  " body.peek[header.fields (subject from)]<0.100>"
                  " BODY.PEEK[HEADER.FIELDS.NOT (X-Spam \"Odd)Name\""
                  " \"q\\\"\")] BODY[1.2.HEADER] BODY[1.2.MIME]"
                  " BODY[3.TEXT]<5.4294967295> BODY[4.1] BODY.PEEK[TEXT]"
                  " BINARY[] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[1]",
                  bad, "invalid fetch item", __LINE__);
}

static void test_raw(void)
{
    static const char *const ok[] = {
        "(a b", "\\Seen)", "{5", "x{5}y", "{}", "caf\xc3\xa9", "\"a\\\"b\"",
        "\"\" \"\\\\\"", NULL};
    static const char *const bad[] = {
        "",      "a\rb",  "a\nb",    "{5}",       "a {5}",
        "~{5+}", "{12-}", "\"open", "\"a\\\"", "\"\" \"", NULL};
    struct isf_cmd c;

    expect_tokens(isf_cmd_raw, ok,
                  "T X (a b \\Seen) {5 x{5}y {} caf\xc3\xa9 \"a\\\"b\""
                  " \"\" \"\\\\\"",
                  bad, "raw text", __LINE__);
    /* A NUL in the middle is found too (strlen above stops at it). */
    isf_cmd_init(&c, "T", "X", 0, MAX);
    CHECK(isf_cmd_raw(&c, S("a\0b")) == ISF_EUSAGE);
    EXPECT_FAIL(&c, ISF_EUSAGE, "CR, LF or NUL");
}

/* Once a secret is on the wire the buffer grows by hand (so that realloc
 * leaves no copy behind): every byte stays in place and the cap holds. */
static void test_secret_growth(void)
{
    static char want[4096];
    struct isf_error e;
    struct isf_cmd c;
    size_t i, len;
    int ok = 1;

    isf_cmd_init(&c, "T", "LOGIN", 0, MAX);
    isf_cmd_secret(&c, S("pw"));
    CHECK(c.secret == 1);
    for (i = 0; i < 200; i++)
        ok &= isf_cmd_atom(&c, S("abcdefghij")) == 0;
    CHECK(ok);
    len = (size_t)snprintf(want, sizeof want, "T LOGIN pw");
    for (i = 0; i < 200; i++)
        len += (size_t)snprintf(want + len, sizeof want - len,
                                " abcdefghij");
    memcpy(want + len, "\r\n", 3);
    CHECK(isf_cmd_finish(&c, &e) == 0);
    same(c.wire.data, c.wire.len, want, len + 2, "grown secret wire",
         __LINE__);
    isf_cmd_free(&c);
    CHECK(c.secret == 0 && c.wire.data == NULL);

    isf_cmd_init(&c, "T", "LOGIN", 0, 100);
    isf_cmd_secret(&c, S("pw"));
    for (i = 0; i < 20; i++)
        isf_cmd_atom(&c, S("abcdefghij"));
    EXPECT_FAIL(&c, ISF_ELIMIT, "limit of 100 bytes");
}

static void expect_quote(const char *s, size_t n, unsigned flags,
                         const char *want, size_t wn, int line)
{
    struct isf_buf b;
    int rc;

    isf_buf_init(&b, 1000);
    isf_buf_puts(&b, "<");
    rc = isf_quote(&b, s, n, flags);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: isf_quote failed: %d\n", __FILE__, line, rc);
        failures++;
    } else {
        same(b.data + 1, b.len - 1, want, wn, "quote", line);
    }
    isf_buf_free(&b);
}

#define EXPECT_QUOTE(s, flags, want)                                          \
    expect_quote(S(s), flags, want, sizeof(want) - 1, __LINE__)

static void test_quote(void)
{
    struct isf_buf b;

    EXPECT_QUOTE("abc", 0, "abc");
    EXPECT_QUOTE("", 0, "\"\"");
    EXPECT_QUOTE("a b", 0, "\"a b\"");
    EXPECT_QUOTE("\"\\", 0, "\"\\\"\\\\\"");
    EXPECT_QUOTE("a\r\nb", 0, "{4}\r\na\r\nb");
    EXPECT_QUOTE("a\r\nb", ISF_CMD_LITERAL_PLUS, "{4+}\r\na\r\nb");
    EXPECT_QUOTE("\xc3\xa9", 0, "{2}\r\n\xc3\xa9");
    EXPECT_QUOTE("\xc3\xa9", ISF_CMD_UTF8, "\"\xc3\xa9\"");

    isf_buf_init(&b, 1000);
    CHECK(isf_quote(&b, S("a\0b"), 0) == ISF_EUSAGE);
    CHECK(b.len == 0);
    isf_buf_free(&b);
    /* The output buffer's cap is honoured. */
    isf_buf_init(&b, 4);
    CHECK(isf_quote(&b, S("a b"), 0) == ISF_ELIMIT);
    CHECK(b.len == 0);
    CHECK(isf_quote(&b, S("a b "), 0) == ISF_ELIMIT);
    CHECK(isf_quote(&b, S("ab"), 0) == 0 && b.len == 2);
    isf_buf_free(&b);
}

int main(void)
{
    test_login();
    test_atoms_numbers();
    test_astring_forms();
    test_literals();
    test_literal_plus_minus();
    test_binary();
    test_lists_and_glue();
    test_refused();
    test_sticky();
    test_max_bytes();
    test_segments();
    test_quote();
    test_flags();
    test_seqsets();
    test_fetch_atts();
    test_raw();
    test_secret_growth();
    return check_report("test_command");
}
