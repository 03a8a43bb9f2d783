/* command.c: the command encoder (command.h): atom, quoted, literal and
 * literal8 arguments per RFC 3501 / RFC 9051 section 9, flags, sequence
 * sets and fetch items checked by their grammar (grammar.h), synchronizing
 * literals as segments, LITERAL+ and LITERAL- (RFC 7888), literal8 (RFC
 * 3516, RFC 6855), and a one-line trace with secrets and literal contents
 * elided. Wire bytes that held a secret are wiped before they are freed. */
#include "command.h"

#include <openssl/crypto.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "grammar.h"
#include "utf8.h"
#include "trace.h"

/* RFC 7888: with LITERAL- only literals up to this size may be {n+}. */
#define LITERAL_MINUS_MAX 4096

/* Marks the command failed with the first reason; later failures keep the
 * first one, which is the one worth reporting. */
static int fail(struct isf_cmd *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct isf_cmd *c, int code, const char *fmt, ...)
{
    va_list ap;

    if (c->failed)
        return c->failed;
    c->failed = code;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return code;
}

static int buf_fail(struct isf_cmd *c, int rc)
{
    if (rc == ISF_ENOMEM)
        return fail(c, rc, "out of memory while building the command");
    return fail(c, ISF_ELIMIT, "command longer than the limit of %zu bytes",
                c->wire.max);
}

/* Once a secret is on the wire, growing the buffer must not leave a copy
 * behind in freed memory (realloc would): move to a new block by hand and
 * wipe the old one. */
static int wgrow_secret(struct isf_cmd *c, size_t n)
{
    struct isf_buf fresh;
    size_t want;
    int rc;

    if (n <= c->wire.cap - c->wire.len || c->wire.data == NULL)
        return 0;
    if (n > c->wire.max || c->wire.len > c->wire.max - n)
        return ISF_ELIMIT;
    want = c->wire.len + n;
    want = want > c->wire.max / 2 ? c->wire.max : want * 2;
    isf_buf_init(&fresh, c->wire.max);
    if ((rc = isf_buf_reserve(&fresh, want)) != 0)
        return rc;
    memcpy(fresh.data, c->wire.data, c->wire.len + 1);
    fresh.len = c->wire.len;
    OPENSSL_cleanse(c->wire.data, c->wire.cap + 1);
    isf_buf_free(&c->wire);
    c->wire = fresh;
    return 0;
}

static int wput(struct isf_cmd *c, const char *s, size_t n)
{
    int rc = c->secret ? wgrow_secret(c, n) : 0;

    if (rc == 0)
        rc = isf_buf_append(&c->wire, s, n);
    return rc ? buf_fail(c, rc) : 0;
}

static int tput(struct isf_cmd *c, const char *s, size_t n)
{
    int rc = isf_buf_append(&c->trace, s, n);

    return rc ? buf_fail(c, rc) : 0;
}

static int is_atom_char(unsigned char ch)
{
    return isf_gram_atom_char(ch);
}

/* A short printable copy of s for messages: controls, 8-bit bytes and
 * quotes become '?', and long text is cut. */
static const char *snippet(char out[40], const char *s, size_t n)
{
    size_t i, m = n < 32 ? n : 32;

    for (i = 0; i < m; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = ch < 0x20 || ch >= 0x7f || ch == '"' ? '?' : (char)ch;
    }
    memcpy(out + m, n > m ? "..." : "", n > m ? 4 : 1);
    return out;
}

/* Whether a server reading s ends inside a quoted string. */
static int leaves_quote_open(const char *s, size_t n)
{
    size_t i;
    int quoted = 0;

    for (i = 0; i < n; i++) {
        if (quoted && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
    }
    return quoted;
}

/* Raw text is the caller's own syntax, but it must not end the line, must
 * not leave a quoted string open (the server would read our next literal
 * header as text, and with LITERAL+ the literal's bytes as commands) and
 * must not end in a literal marker ("{5}", "~{5+}"): right before CRLF
 * that would make the server wait for bytes that never come. */
static int check_raw(struct isf_cmd *c, const char *s, size_t n)
{
    const char *open;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '\r' || ch == '\n' || ch == '\0')
            return fail(c, ISF_EUSAGE,
                        "raw text has a CR, LF or NUL byte at offset %zu",
                        i);
    }
    if (leaves_quote_open(s, n))
        return fail(c, ISF_EUSAGE, "raw text leaves a quoted string open");
    if (n < 3 || s[n - 1] != '}')
        return 0;
    for (i = n - 1; i > 0 && s[i - 1] != '{'; i--)
        ;
    open = s + i; /* just after the last '{' (or s itself: none) */
    if (i == 0)
        return 0;
    if (*open >= '0' && *open <= '9' &&
        strspn(open, "0123456789+-") == (size_t)(s + n - 1 - open))
        return fail(c, ISF_EUSAGE,
                    "raw text ends in a literal marker {...}");
    return 0;
}

/* Glued text joins the previous token (a partial like "<0.100>"); it may
 * not start a new token, list, string or literal. */
static int check_glue(struct isf_cmd *c, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch <= 0x20 || ch >= 0x7f || strchr("(){\"\\", ch) != NULL)
            return fail(c, ISF_EUSAGE,
                        "glued text has byte 0x%02x at offset %zu (no space,"
                        " ( ) { \" \\, controls or 8-bit bytes)",
                        ch, i);
    }
    return 0;
}

/* The separating space before an argument, unless one just opened a list
 * or nothing precedes it. */
static int begin(struct isf_cmd *c)
{
    if (c->failed)
        return c->failed;
    if (!c->need_space)
        return 0;
    if (wput(c, " ", 1) || tput(c, " ", 1))
        return c->failed;
    return 0;
}

/* Copies what was written to the wire since offset from into the trace,
 * or "***" for a secret. Quoted strings may hold controls, C1 or bidi
 * characters taken from a message: the trace gets them escaped, as
 * server lines are, so that showing it cannot drive a terminal. */
static int trace_since(struct isf_cmd *c, size_t from, int secret)
{
    int rc;

    if (secret)
        return tput(c, "***", 3);
    rc = isf_escape(&c->trace, c->wire.data + from, c->wire.len - from, 1);
    return rc ? buf_fail(c, rc) : 0;
}

static size_t trace_max(size_t max_bytes)
{
    /* A literal's trace "{0}<0 bytes>" is at most 8 bytes longer than its
     * wire form, and each literal takes at least 5 wire bytes; an escaped
     * byte takes at most 4 ("\x09", "\u{85}" for two). 4x the wire cap
     * therefore always suffices. */
    if (max_bytes > (SIZE_MAX - 64) / 4)
        return SIZE_MAX - 1;
    return max_bytes * 4 + 64;
}

static int valid_tag(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if (s[i] == '+' || !(is_atom_char((unsigned char)s[i]) ||
                             s[i] == ']'))
            return 0;
    return i > 0;
}

/* One or more atoms separated by single spaces ("UID FETCH"). */
static int valid_name(const char *s)
{
    size_t i;

    if (!is_atom_char((unsigned char)s[0]))
        return 0;
    for (i = 1; s[i]; i++) {
        if (s[i] == ' ' && s[i + 1] != ' ' && s[i + 1] != '\0')
            continue;
        if (!is_atom_char((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* An empty command with a wire cap of max_bytes. */
static void reset(struct isf_cmd *c, unsigned flags, size_t max_bytes)
{
    isf_buf_init(&c->wire, max_bytes);
    isf_buf_init(&c->trace, trace_max(max_bytes));
    c->nseg = 0;
    c->flags = flags;
    c->need_space = 0;
    c->failed = 0;
    c->secret = 0;
    c->depth = 0;
    c->why[0] = '\0';
}

void isf_cmd_init(struct isf_cmd *c, const char *tag, const char *name,
                  unsigned flags, size_t max_bytes)
{
    reset(c, flags, max_bytes);
    if (tag == NULL || !valid_tag(tag)) {
        fail(c, ISF_EUSAGE, "invalid command tag");
        return;
    }
    if (name == NULL || !valid_name(name)) {
        fail(c, ISF_EUSAGE, "invalid command name");
        return;
    }
    if (wput(c, tag, strlen(tag)) || wput(c, " ", 1) ||
        wput(c, name, strlen(name)))
        return;
    if (tput(c, c->wire.data, c->wire.len))
        return;
    c->need_space = 1;
}

void isf_cmd_free(struct isf_cmd *c)
{
    if (c->secret && c->wire.data)
        OPENSSL_cleanse(c->wire.data, c->wire.cap + 1);
    c->secret = 0;
    isf_buf_free(&c->wire);
    isf_buf_free(&c->trace);
}

/* Writes a token already checked, with its separating space. */
static int put_token(struct isf_cmd *c, const char *s, size_t n)
{
    size_t from;

    if (begin(c))
        return c->failed;
    from = c->wire.len;
    if (wput(c, s, n) || trace_since(c, from, 0))
        return c->failed;
    c->need_space = 1;
    return 0;
}

/* A token checked by one of the grammar.h checks; what names it. */
static int put_checked(struct isf_cmd *c, const char *s, size_t n,
                       int (*check)(const char *, size_t, const char **),
                       const char *what)
{
    const char *why = NULL;
    char show[40];

    if (c->failed)
        return c->failed;
    if (!check(s, n, &why))
        return fail(c, ISF_EUSAGE, "invalid %s \"%s\": %s", what,
                    snippet(show, s, n), why);
    return put_token(c, s, n);
}

int isf_cmd_atom(struct isf_cmd *c, const char *s, size_t n)
{
    return put_checked(c, s, n, isf_gram_atom, "atom");
}

int isf_cmd_flag(struct isf_cmd *c, const char *s, size_t n)
{
    return put_checked(c, s, n, isf_gram_flag, "flag");
}

int isf_cmd_seqset(struct isf_cmd *c, const char *s, size_t n)
{
    return put_checked(c, s, n, isf_gram_seqset, "message set");
}

int isf_cmd_fetch_att(struct isf_cmd *c, const char *s, size_t n)
{
    return put_checked(c, s, n, isf_gram_fetch_att, "fetch item");
}

int isf_cmd_raw(struct isf_cmd *c, const char *s, size_t n)
{
    if (c->failed)
        return c->failed;
    if (n == 0)
        return fail(c, ISF_EUSAGE, "raw text cannot be empty");
    if (check_raw(c, s, n))
        return c->failed;
    return put_token(c, s, n);
}

int isf_cmd_number(struct isf_cmd *c, unsigned long long v)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%llu", v);

    if (begin(c) || wput(c, num, (size_t)len) || tput(c, num, (size_t)len))
        return c->failed;
    c->need_space = 1;
    return 0;
}

enum form { FORM_ATOM, FORM_QUOTED, FORM_LITERAL, FORM_NUL };

/* Picks the lightest form that can carry s. */
static enum form classify(const char *s, size_t n, unsigned flags,
                          int allow_atom)
{
    int atom = allow_atom && n > 0, quoted = 1;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == 0)
            return FORM_NUL;
        if (!is_atom_char(ch))
            atom = 0;
        if (ch == '\r' || ch == '\n')
            quoted = 0;
        if (ch >= 0x80 && !(flags & ISF_CMD_UTF8))
            quoted = 0;
    }
    /* After UTF8=ACCEPT a quoted string may hold UTF-8, nothing else
     * (RFC 9051 QUOTED-CHAR); other bytes go in a literal. */
    if (quoted && !atom && (flags & ISF_CMD_UTF8) && !isf_utf8_valid(s, n))
        quoted = 0;
    return atom ? FORM_ATOM : quoted ? FORM_QUOTED : FORM_LITERAL;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE, with '"' and '\' escaped. */
static int put_quoted(struct isf_cmd *c, const char *s, size_t n)
{
    size_t i, start = 0;

    if (wput(c, "\"", 1))
        return c->failed;
    for (i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        if (wput(c, s + start, i - start) || wput(c, "\\", 1))
            return c->failed;
        start = i;
    }
    if (wput(c, s + start, n - start) || wput(c, "\"", 1))
        return c->failed;
    return 0;
}

static int is_sync(unsigned flags, size_t n)
{
    if (flags & ISF_CMD_LITERAL_PLUS)
        return 0;
    if (flags & ISF_CMD_LITERAL_MINUS)
        return n > LITERAL_MINUS_MAX;
    return 1;
}

/* "{n}\r\n" (or "{n+}", "~{n}") and the bytes; a synchronizing literal
 * ends a segment right after its CRLF, where the sender waits for "+". */
static int put_literal(struct isf_cmd *c, const char *s, size_t n,
                       int binary, int secret)
{
    char head[48], tail[40];
    int sync = is_sync(c->flags, n);
    int hn = snprintf(head, sizeof head, "%s{%zu%s}", binary ? "~" : "", n,
                      sync ? "" : "+");
    int tn = snprintf(tail, sizeof tail, "<%zu bytes>", n);

    if (sync && c->nseg >= ISF_CMD_MAX_SEGMENTS)
        return fail(c, ISF_ELIMIT,
                    "more than %d synchronizing literals in one command",
                    ISF_CMD_MAX_SEGMENTS);
    if (wput(c, head, (size_t)hn) || wput(c, "\r\n", 2))
        return c->failed;
    if (sync)
        c->seg_end[c->nseg++] = c->wire.len;
    if (wput(c, s, n))
        return c->failed;
    if (secret)
        return tput(c, "***", 3);
    if (tput(c, head, (size_t)hn) || tput(c, tail, (size_t)tn))
        return c->failed;
    return 0;
}

static int put_string(struct isf_cmd *c, const char *s, size_t n,
                      int allow_atom, int secret)
{
    enum form f;
    size_t from;
    int rc;

    if (c->failed)
        return c->failed;
    f = classify(s, n, c->flags, allow_atom);
    if (f == FORM_NUL)
        return fail(c, ISF_EUSAGE,
                    "a string cannot hold a NUL byte"
                    " (only a binary literal can)");
    if (begin(c))
        return c->failed;
    if (secret)
        c->secret = 1;
    from = c->wire.len;
    if (f == FORM_LITERAL)
        rc = put_literal(c, s, n, 0, secret);
    else if (f == FORM_ATOM)
        rc = wput(c, s, n);
    else
        rc = put_quoted(c, s, n);
    if (rc == 0 && f != FORM_LITERAL)
        rc = trace_since(c, from, secret);
    c->need_space = 1;
    return rc;
}

int isf_cmd_astring(struct isf_cmd *c, const char *s, size_t n)
{
    return put_string(c, s, n, 1, 0);
}

int isf_cmd_string(struct isf_cmd *c, const char *s, size_t n)
{
    return put_string(c, s, n, 0, 0);
}

int isf_cmd_secret(struct isf_cmd *c, const char *s, size_t n)
{
    return put_string(c, s, n, 1, 1);
}

int isf_cmd_literal(struct isf_cmd *c, const char *s, size_t n, int binary)
{
    if (c->failed)
        return c->failed;
    /* RFC 6855 lets APPEND carry literal8 in UTF8 (...) without BINARY. */
    if (binary && !(c->flags & (ISF_CMD_BINARY | ISF_CMD_UTF8)))
        return fail(c, ISF_EUSAGE,
                    "a binary literal needs the server's BINARY capability"
                    " or UTF8=ACCEPT");
    if (!binary && n > 0 && memchr(s, 0, n) != NULL)
        return fail(c, ISF_EUSAGE,
                    "a literal cannot hold a NUL byte (use a binary one)");
    if (begin(c) || put_literal(c, s, n, binary, 0))
        return c->failed;
    c->need_space = 1;
    return 0;
}

int isf_cmd_open(struct isf_cmd *c)
{
    if (begin(c) || wput(c, "(", 1) || tput(c, "(", 1))
        return c->failed;
    c->depth++;
    c->need_space = 0;
    return 0;
}

int isf_cmd_close(struct isf_cmd *c)
{
    if (c->failed)
        return c->failed;
    if (c->depth == 0)
        return fail(c, ISF_EUSAGE, "')' without a matching '('");
    if (wput(c, ")", 1) || tput(c, ")", 1))
        return c->failed;
    c->depth--;
    c->need_space = 1;
    return 0;
}

int isf_cmd_glue(struct isf_cmd *c, const char *s, size_t n)
{
    if (c->failed)
        return c->failed;
    if (check_glue(c, s, n))
        return c->failed;
    if (wput(c, s, n) || tput(c, s, n))
        return c->failed;
    c->need_space = 1;
    return 0;
}

int isf_cmd_finish(struct isf_cmd *c, struct isf_error *e)
{
    if (!c->failed && c->depth > 0)
        fail(c, ISF_EUSAGE, "%u list(s) left open", c->depth);
    if (!c->failed)
        wput(c, "\r\n", 2);
    if (c->failed)
        return isf_error_set(e, c->failed, "%s", c->why);
    return 0;
}

int isf_quote(struct isf_buf *out, const char *s, size_t n, unsigned flags)
{
    struct isf_cmd c;
    size_t room = out->len < out->max ? out->max - out->len : 0;
    int rc;

    reset(&c, flags, room);
    rc = isf_cmd_astring(&c, s, n);
    if (rc == 0)
        rc = isf_buf_append(out, c.wire.data, c.wire.len);
    isf_cmd_free(&c);
    return rc;
}
