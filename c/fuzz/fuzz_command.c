/* fuzz_command.c: libFuzzer target for the command encoder (command.c,
 * RFC 3501 / RFC 9051 section 9, RFC 7888, RFC 3516). The input is a
 * script of isf_cmd_* calls; the wire bytes are then read back the way a
 * server would: one command with our tag, every string decoding to the
 * bytes given, literals where the segments say, no CR or LF outside
 * literals. A first failure must have a reason the encoder documents.
 * Any broken invariant aborts so the fuzzer reports it. */
#include "command.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "A001"
#define MAX_OPS 64

enum op_kind {
    OP_ATOM,
    OP_NUMBER,
    OP_ASTRING,
    OP_STRING,
    OP_LITERAL,
    OP_LITERAL8,
    OP_SECRET,
    OP_OPEN,
    OP_CLOSE,
    OP_GLUE,
    OP_FLAG,
    OP_SEQSET,
    OP_FETCH_ATT,
    OP_RAW,
    OP_KINDS
};

/* Calls whose text goes to the wire as given, once accepted. */
static int verbatim(enum op_kind k)
{
    return k == OP_ATOM || k == OP_GLUE || k == OP_FLAG || k == OP_SEQSET ||
           k == OP_FETCH_ATT || k == OP_RAW;
}

struct op {
    enum op_kind kind;
    const char *s;
    size_t n;
    unsigned long long v;
};

/* The input, consumed front to back. */
struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned take_byte(struct input *in)
{
    unsigned b = in->n ? in->p[0] : 0;

    if (in->n)
        in->p++, in->n--;
    return b;
}

/* A length byte, then up to that many bytes (fewer at the end). */
static void take_bytes(struct input *in, struct op *o)
{
    size_t n = take_byte(in);

    if (n > in->n)
        n = in->n;
    o->s = (const char *)in->p;
    o->n = n;
    in->p += n;
    in->n -= n;
}

/* Whether a server reading s ends up outside a quoted string. */
static int quotes_closed(const char *s, size_t n)
{
    size_t i;
    int quoted = 0;

    for (i = 0; i < n; i++) {
        if (quoted && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
    }
    return !quoted;
}

static void take_op(struct input *in, struct op *o, enum op_kind prev)
{
    unsigned k;

    o->kind = (enum op_kind)(take_byte(in) % OP_KINDS);
    o->s = "", o->n = 0, o->v = 0;
    /* Glue continues a token sent as given (a fetch item, then its
     * partial "<0.100>"); after a string it would change the string. */
    if (o->kind == OP_GLUE && !verbatim(prev))
        o->kind = OP_ATOM;
    if (o->kind == OP_NUMBER)
        for (k = 0; k < 8; k++)
            o->v = o->v << 8 | take_byte(in);
    else if (o->kind != OP_OPEN && o->kind != OP_CLOSE)
        take_bytes(in, o);
}

static int call(struct isf_cmd *c, const struct op *o)
{
    switch (o->kind) {
    case OP_ATOM:
        return isf_cmd_atom(c, o->s, o->n);
    case OP_NUMBER:
        return isf_cmd_number(c, o->v);
    case OP_ASTRING:
        return isf_cmd_astring(c, o->s, o->n);
    case OP_STRING:
        return isf_cmd_string(c, o->s, o->n);
    case OP_LITERAL:
        return isf_cmd_literal(c, o->s, o->n, 0);
    case OP_LITERAL8:
        return isf_cmd_literal(c, o->s, o->n, 1);
    case OP_SECRET:
        return isf_cmd_secret(c, o->s, o->n);
    case OP_OPEN:
        return isf_cmd_open(c);
    case OP_CLOSE:
        return isf_cmd_close(c);
    case OP_FLAG:
        return isf_cmd_flag(c, o->s, o->n);
    case OP_SEQSET:
        return isf_cmd_seqset(c, o->s, o->n);
    case OP_FETCH_ATT:
        return isf_cmd_fetch_att(c, o->s, o->n);
    case OP_RAW:
        return isf_cmd_raw(c, o->s, o->n);
    default:
        return isf_cmd_glue(c, o->s, o->n);
    }
}

static int atom_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && strchr("(){%*\"\\]", ch) == NULL;
}

static int has_byte(const struct op *o, int (*bad)(unsigned char))
{
    size_t i;

    for (i = 0; i < o->n; i++)
        if (bad((unsigned char)o->s[i]))
            return 1;
    return 0;
}

static int is_nul(unsigned char ch)
{
    return ch == 0;
}

static int not_raw(unsigned char ch)
{
    return ch == 0 || ch == '\r' || ch == '\n';
}

static int not_glue(unsigned char ch)
{
    return ch <= 0x20 || ch >= 0x7f || strchr("(){\"\\", ch) != NULL;
}

/* Independent readings of the grammar command.h checks tokens against
 * (RFC 9051 section 9): atom, flag, sequence-set (RFC 5182's "$"). */
static int is_atom(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!atom_char((unsigned char)s[i]))
            return 0;
    return n > 0;
}

static int is_flag(const char *s, size_t n)
{
    return is_atom(s, n) || (n > 1 && s[0] == '\\' && is_atom(s + 1, n - 1));
}

/* seq-number = nz-number / "*", nz-number within 32 bits. */
static int is_seq_number(const char *s, size_t n)
{
    unsigned long long v = 0;
    size_t i;

    if (n == 1 && s[0] == '*')
        return 1;
    if (n == 0 || n > 10 || s[0] < '1' || s[0] > '9')
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 0xffffffffULL;
}

static int is_seq_item(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t k = colon ? (size_t)(colon - s) : n;

    if (!colon)
        return is_seq_number(s, n);
    return is_seq_number(s, k) && is_seq_number(colon + 1, n - k - 1);
}

static int is_seqset(const char *s, size_t n)
{
    size_t start = 0, i;

    if (n == 1 && s[0] == '$')
        return 1;
    for (i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (!is_seq_item(s + start, i - start))
            return 0;
        start = i + 1;
    }
    return 1;
}

/* Raw text ending in a literal marker: "{", a digit, then digits, "+" or
 * "-", then "}" (command.h refuses these). */
static int ends_in_marker(const char *s, size_t n)
{
    size_t i = n;

    if (n < 3 || s[n - 1] != '}')
        return 0;
    for (i = n - 1; i > 0 && s[i - 1] != '{'; i--)
        if (!strchr("0123456789+-", s[i - 1]))
            return 0;
    return i > 0 && i < n - 1 && s[i] >= '0' && s[i] <= '9';
}

/* Whether a token sent as given was one command.h allows. */
static int token_allowed(const struct op *o)
{
    switch (o->kind) {
    case OP_ATOM:
        return is_atom(o->s, o->n);
    case OP_FLAG:
        return is_flag(o->s, o->n);
    case OP_SEQSET:
        return is_seqset(o->s, o->n);
    case OP_GLUE:
        return !has_byte(o, not_glue);
    case OP_RAW:
        /* An open quote would make the server read our next literal
         * header as text (check_framing catches that). */
        return o->n > 0 && !has_byte(o, not_raw) &&
               quotes_closed(o->s, o->n) && !ends_in_marker(o->s, o->n);
    default:
        return 1; /* fetch items: checked by reading the wire */
    }
}

/* Whether refusing o with ISF_EUSAGE is one of command.h's reasons. */
static int usage_justified(const struct isf_cmd *c, const struct op *o,
                           unsigned depth)
{
    switch (o->kind) {
    case OP_FETCH_ATT:
        return 1; /* its grammar is not repeated here */
    case OP_ASTRING:
    case OP_STRING:
    case OP_SECRET:
    case OP_LITERAL:
        return has_byte(o, is_nul);
    case OP_LITERAL8:
        return !(c->flags & (ISF_CMD_BINARY | ISF_CMD_UTF8));
    case OP_CLOSE:
        return depth == 0;
    default:
        return verbatim(o->kind) && !token_allowed(o);
    }
}

/* Whether a limit failure of o is one: the wire cap (an argument takes at
 * most a space, a literal header and its bytes twice over when quoted) or
 * the count of synchronizing literals. */
static int limit_justified(const struct isf_cmd *c, const struct op *o,
                           size_t len_before)
{
    size_t most = 2 * o->n + 48;

    return c->nseg == ISF_CMD_MAX_SEGMENTS || most > c->wire.max - len_before;
}

static void check_failure(const struct isf_cmd *c, const struct op *o, int rc,
                          size_t len_before, unsigned depth)
{
    if (rc == ISF_EUSAGE && usage_justified(c, o, depth))
        return;
    if (rc == ISF_ELIMIT && limit_justified(c, o, len_before))
        return;
    fprintf(stderr, "op %d (%zu bytes) failed with %d: %s\n", (int)o->kind,
            o->n, rc, c->why);
    abort();
}

/* The server's side: reads the wire back, guided by the calls made. */
struct reader {
    const char *w;
    size_t len, pos;
    unsigned flags;
    const struct isf_cmd *c; /* NULL: no segments to check (isf_quote) */
    size_t seg;              /* segments met so far */
    struct isf_buf val;      /* the last string argument, decoded */
};

enum form { FORM_ATOM, FORM_QUOTED, FORM_LITERAL, FORM_LITERAL8 };

static void expect(struct reader *r, const char *s, size_t n)
{
    if (n > r->len - r->pos || memcmp(r->w + r->pos, s, n) != 0) {
        fprintf(stderr, "expected %.*s at offset %zu\n", (int)n, s, r->pos);
        abort();
    }
    r->pos += n;
}

static int peek(const struct reader *r)
{
    return r->pos < r->len ? (unsigned char)r->w[r->pos] : -1;
}

static void keep(struct reader *r, const char *s, size_t n)
{
    if (isf_buf_append(&r->val, s, n) != 0)
        abort();
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; only '"' and '\' are escaped. */
static void read_quoted(struct reader *r)
{
    int ch;

    expect(r, "\"", 1);
    while ((ch = peek(r)) != '"') {
        if (ch < 0 || ch == '\r' || ch == '\n' || ch == 0)
            abort();
        if (ch >= 0x80 && !(r->flags & ISF_CMD_UTF8))
            abort(); /* 8-bit quoted only after UTF8=ACCEPT */
        if (ch == '\\') {
            r->pos++;
            if (peek(r) != '"' && peek(r) != '\\')
                abort();
        }
        keep(r, r->w + r->pos, 1);
        r->pos++;
    }
    r->pos++;
}

/* "{" number ["+"] "}" CRLF, then that many bytes; a synchronizing one
 * must end a recorded segment right after its CRLF. */
static void read_literal(struct reader *r, int binary)
{
    size_t n = 0, digits = 0;
    int plus, sync;

    if (binary)
        expect(r, "~", 1);
    expect(r, "{", 1);
    for (; peek(r) >= '0' && peek(r) <= '9'; digits++, r->pos++) {
        if (n > r->len)
            abort();
        n = n * 10 + (size_t)(peek(r) - '0');
    }
    plus = peek(r) == '+';
    r->pos += (size_t)plus;
    expect(r, "}\r\n", 3);
    sync = !(r->flags & ISF_CMD_LITERAL_PLUS) &&
           (!(r->flags & ISF_CMD_LITERAL_MINUS) || n > 4096);
    if (digits == 0 || plus == sync)
        abort();
    if (sync && r->c != NULL &&
        (r->seg >= r->c->nseg || r->c->seg_end[r->seg++] != r->pos))
        abort();
    if (n > r->len - r->pos)
        abort();
    keep(r, r->w + r->pos, n);
    r->pos += n;
}

/* astring's atom form: 1*ASTRING-CHAR (ATOM-CHAR or "]"). */
static void read_atom(struct reader *r)
{
    size_t start = r->pos;

    while (peek(r) >= 0 &&
           (atom_char((unsigned char)peek(r)) || peek(r) == ']'))
        r->pos++;
    if (r->pos == start)
        abort();
    keep(r, r->w + start, r->pos - start);
}

static enum form read_string(struct reader *r)
{
    isf_buf_reset(&r->val);
    keep(r, "", 0);
    if (peek(r) == '"') {
        read_quoted(r);
        return FORM_QUOTED;
    }
    if (peek(r) == '{' ||
        (peek(r) == '~' && r->pos + 1 < r->len && r->w[r->pos + 1] == '{')) {
        int binary = peek(r) == '~';

        read_literal(r, binary);
        return binary ? FORM_LITERAL8 : FORM_LITERAL;
    }
    read_atom(r);
    return FORM_ATOM;
}

static int is_break(unsigned char ch)
{
    return ch == '\r' || ch == '\n';
}

static int is_8bit(unsigned char ch)
{
    return ch >= 0x80;
}

/* RFC 3629 UTF8-octets, written from its ABNF (independent of the
 * library's reader): the second byte's range depends on the first. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0, k, len;
    unsigned char lo, hi;

    while (i < n) {
        unsigned char b = s[i];

        if (b < 0x80) {
            i++;
            continue;
        }
        if (b < 0xc2 || b > 0xf4)
            return 0;
        len = b <= 0xdf ? 2 : b <= 0xef ? 3 : 4;
        lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += len;
    }
    return 1;
}

/* The form command.h promises for o: the lightest that carries it. */
static enum form expected_form(const struct op *o, unsigned flags)
{
    size_t i;
    int atom = o->n > 0;

    if (o->kind == OP_LITERAL || o->kind == OP_LITERAL8)
        return o->kind == OP_LITERAL ? FORM_LITERAL : FORM_LITERAL8;
    if (o->kind != OP_ASTRING && o->kind != OP_STRING && o->kind != OP_SECRET)
        return FORM_ATOM; /* tokens: sent as they are */
    for (i = 0; i < o->n; i++)
        atom = atom && atom_char((unsigned char)o->s[i]);
    if (atom && o->kind != OP_STRING)
        return FORM_ATOM;
    if (has_byte(o, is_break) ||
        (!(flags & ISF_CMD_UTF8) && has_byte(o, is_8bit)))
        return FORM_LITERAL;
    /* After UTF8=ACCEPT only valid UTF-8 may be quoted. */
    if (!utf8_ok((const unsigned char *)o->s, o->n))
        return FORM_LITERAL;
    return FORM_QUOTED;
}

/* Where the next argument goes: a space is due unless a list just
 * opened; depth counts open lists. */
struct model {
    int need_space;
    unsigned depth;
};

static void advance(struct model *m, const struct op *o)
{
    if (o->kind == OP_OPEN)
        m->depth++;
    if (o->kind == OP_CLOSE)
        m->depth--;
    m->need_space = o->kind != OP_OPEN;
}

static void read_arg(struct reader *r, const struct op *o, struct model *m)
{
    char num[24];

    if (m->need_space && o->kind != OP_CLOSE && o->kind != OP_GLUE)
        expect(r, " ", 1);
    if (o->kind == OP_OPEN || o->kind == OP_CLOSE)
        expect(r, o->kind == OP_OPEN ? "(" : ")", 1);
    else if (verbatim(o->kind))
        expect(r, o->s, o->n);
    else if (o->kind == OP_NUMBER)
        expect(r, num, (size_t)snprintf(num, sizeof num, "%llu", o->v));
    else if (read_string(r) != expected_form(o, r->flags) ||
             r->val.len != o->n || memcmp(r->val.data, o->s, o->n) != 0)
        abort(); /* the server would see other bytes than we gave */
    advance(m, o);
}

/* Whether a trace shows safely on a terminal: no C0 control or DEL, and
 * none of the C1 controls (U+0080-U+009F) or bidi overrides (U+202A-E,
 * U+2066-9) in UTF-8. */
static int trace_safe(const char *t, size_t n)
{
    const unsigned char *u = (const unsigned char *)t;
    size_t i;

    for (i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return 0;
        if (n - i >= 2 && u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
            return 0;
        if (n - i >= 3 && u[i] == 0xe2 &&
            ((u[i + 1] == 0x80 && u[i + 2] >= 0xaa && u[i + 2] <= 0xae) ||
             (u[i + 1] == 0x81 && u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9)))
            return 0;
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

/* The trace of an argument: "***" for a secret, the literal's header and
 * "<n bytes>" for a literal, else the wire form, escaped where it is not
 * printable ASCII. */
static void check_trace(const struct isf_cmd *c, const struct op *o,
                        const struct model *m, size_t wfrom, size_t tfrom)
{
    enum form f = expected_form(o, c->flags);
    const char *sep =
        m->need_space && o->kind != OP_CLOSE && o->kind != OP_GLUE ? " " : "";
    char want[96];
    int sync = !(c->flags & ISF_CMD_LITERAL_PLUS) &&
               (!(c->flags & ISF_CMD_LITERAL_MINUS) || o->n > 4096);
    size_t tn = c->trace.len - tfrom;

    if (o->kind == OP_SECRET)
        snprintf(want, sizeof want, "%s***", sep);
    else if (f == FORM_LITERAL || f == FORM_LITERAL8)
        snprintf(want, sizeof want, "%s%s{%zu%s}<%zu bytes>", sep,
                 f == FORM_LITERAL8 ? "~" : "", o->n, sync ? "" : "+", o->n);
    else if (!trace_safe(c->trace.data + tfrom, tn))
        abort();
    else if (!printable(c->wire.data + wfrom, c->wire.len - wfrom))
        return;
    else if (tn != c->wire.len - wfrom ||
             memcmp(c->trace.data + tfrom, c->wire.data + wfrom, tn) != 0)
        abort();
    else
        return;
    if (tn != strlen(want) || memcmp(c->trace.data + tfrom, want, tn) != 0) {
        fprintf(stderr, "trace \"%.*s\", want \"%s\"\n", (int)tn,
                c->trace.data + tfrom, want);
        abort();
    }
}

/* Reads the wire as a server that knows nothing of the calls: a line
 * ending in a literal header goes on after the literal's bytes, and the
 * first other CRLF ends the command, which must be the end of the wire.
 * A literal header inside what the server takes for a quoted string would
 * not be read as one: the literal's bytes would become command lines. */
static size_t literal_before(const char *line, size_t len, int *found)
{
    size_t j = len, n = 0, scale = 1;

    *found = 0;
    if (j < 3 || line[--j] != '}')
        return 0;
    if (line[j - 1] == '+')
        j--;
    while (j > 0 && line[j - 1] >= '0' && line[j - 1] <= '9') {
        n += (size_t)(line[j - 1] - '0') * scale;
        scale *= 10;
        j--;
    }
    *found = j > 0 && j < len - 1 && line[j - 1] == '{' && line[j] >= '0' &&
             line[j] <= '9';
    return n;
}

/* from: where the text after the last literal's bytes starts; a server
 * never reads a literal's bytes as part of a header. */
static void check_framing(const char *w, size_t len)
{
    size_t pos = 0, from = 0, n;
    int quoted = 0, found;

    for (; pos < len; pos++) {
        if (quoted && w[pos] == '\\')
            pos++;
        else if (w[pos] == '"')
            quoted = !quoted;
        else if (w[pos] == '\n')
            abort(); /* a bare LF */
        else if (w[pos] == '\r') {
            if (pos + 1 >= len || w[pos + 1] != '\n')
                abort();
            n = literal_before(w + from, pos - from, &found);
            if (!found)
                break;
            if (quoted) {
                fprintf(stderr,
                        "a literal header at offset %zu is inside"
                        " a quoted string\n",
                        pos);
                abort();
            }
            if (n > len - pos - 2)
                abort();
            pos += 1 + n; /* the loop's pos++ passes the LF */
            from = pos + 1;
        }
    }
    if (pos + 2 != len)
        abort(); /* not exactly one command */
}

/* isf_quote gives what isf_cmd_astring would send, after what the
 * buffer already held, or fails and leaves it as it was. */
static void check_quote(const struct op *o, unsigned flags)
{
    struct isf_buf out;
    struct reader r = {0};
    struct op as = *o;
    int rc;

    as.kind = OP_ASTRING;
    isf_buf_init(&out, 1 << 20);
    isf_buf_puts(&out, "x");
    rc = isf_quote(&out, o->s, o->n, flags);
    if (rc != 0 && (rc != ISF_EUSAGE || !has_byte(o, is_nul) || out.len != 1))
        abort();
    if (rc == 0) {
        r.w = out.data + 1, r.len = out.len - 1, r.flags = flags;
        isf_buf_init(&r.val, 1 << 20);
        if (read_string(&r) != expected_form(&as, flags) || r.pos != r.len ||
            r.val.len != o->n || memcmp(r.val.data, o->s, o->n) != 0)
            abort();
        isf_buf_free(&r.val);
    }
    isf_buf_free(&out);
}

/* Reads back a finished command: tag, name, each argument, CRLF. */
static void read_back(const struct isf_cmd *c, const char *name,
                      const struct op *ops, size_t nops)
{
    struct reader r = {0};
    struct model m = {1, 0};
    size_t i;

    r.w = c->wire.data, r.len = c->wire.len, r.flags = c->flags, r.c = c;
    isf_buf_init(&r.val, 1 << 20);
    expect(&r, TAG " ", strlen(TAG) + 1);
    expect(&r, name, strlen(name));
    for (i = 0; i < nops; i++)
        read_arg(&r, &ops[i], &m);
    expect(&r, "\r\n", 2);
    if (r.pos != r.len || r.seg != c->nseg)
        abort();
    isf_buf_free(&r.val);
    check_framing(c->wire.data, c->wire.len);
    if (!trace_safe(c->trace.data, c->trace.len))
        abort(); /* the trace is one line, safe to show */
}

/* Makes the calls; returns how many succeeded before the first failure
 * (whose code goes to *failed), checking each call's trace. */
static size_t run_ops(struct isf_cmd *c, struct input *in, struct op *ops,
                      int *failed, struct model *m)
{
    size_t nops = 0, ok = 0, wfrom, tfrom;
    enum op_kind prev = OP_ATOM;
    int rc;

    while (in->n > 0 && nops < MAX_OPS) {
        struct op *o = &ops[nops++];

        take_op(in, o, prev);
        prev = o->kind;
        if (o->kind == OP_ASTRING)
            check_quote(o, c->flags);
        wfrom = c->wire.len, tfrom = c->trace.len;
        rc = call(c, o);
        if (*failed) {
            if (rc != *failed || c->wire.len != wfrom)
                abort(); /* failures stick and write nothing */
        } else if (rc != 0) {
            check_failure(c, o, rc, wfrom, m->depth);
            *failed = rc;
        } else {
            if (!token_allowed(o))
                abort(); /* text outside the grammar went out */
            check_trace(c, o, m, wfrom, tfrom);
            advance(m, o);
            ok++;
        }
    }
    return ok;
}

static const char *const names[] = {"LOGIN", "UID FETCH", "APPEND", "X"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    static struct op ops[MAX_OPS];
    struct isf_cmd c;
    struct isf_error e;
    struct model m = {1, 0};
    unsigned flags = take_byte(&in) & 15, mb = take_byte(&in);
    const char *name = names[take_byte(&in) % 4];
    size_t max = mb < 192 ? 16 + mb * 16 : (size_t)1 << 20, nops;
    int failed = 0, rc;

    isf_cmd_init(&c, TAG, name, flags, max);
    if (c.failed &&
        (c.failed != ISF_ELIMIT || strlen(TAG " ") + strlen(name) <= max))
        abort();
    failed = c.failed;
    nops = run_ops(&c, &in, ops, &failed, &m);
    rc = isf_cmd_finish(&c, &e);
    if (failed ? rc != failed
        : m.depth
            ? rc != ISF_EUSAGE
            : rc != 0 && (rc != ISF_ELIMIT || c.wire.len + 2 <= c.wire.max))
        abort();
    if (rc == 0)
        read_back(&c, name, ops, nops);
    isf_cmd_free(&c);
    return 0;
}
