/* grammar.c: argument grammar checks (grammar.h), RFC 9051 section 9:
 * atom, flag, sequence-set (RFC 5182 "$") and fetch-att (RFC 3516, RFC
 * 7162, RFC 8474, RFC 8514, Gmail X-GM-*). A small recursive descent over
 * the text; nothing is allocated. */
#include "grammar.h"

#include <string.h>

/* A cursor over the text being checked; why keeps the first reason. */
struct cur {
    const char *s;
    size_t n, i;
    const char *why;
};

static int peek(const struct cur *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int bad(struct cur *p, const char *why)
{
    if (p->why == NULL)
        p->why = why;
    return 0;
}

static int expect(struct cur *p, int ch, const char *why)
{
    if (peek(p) != ch)
        return bad(p, why);
    p->i++;
    return 1;
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* Matches keyword k (upper case) at the cursor, any case; advances. */
static int kw(struct cur *p, const char *k)
{
    size_t len = strlen(k), j;

    if (p->n - p->i < len)
        return 0;
    for (j = 0; j < len; j++)
        if (upper(p->s[p->i + j]) != k[j])
            return 0;
    p->i += len;
    return 1;
}

/* Ends a check: the whole text must have been consumed. */
static int done(struct cur *p, int ok, const char **why)
{
    if (ok && p->i != p->n)
        ok = bad(p, "unexpected text after a complete item");
    if (!ok && why)
        *why = p->why ? p->why : "invalid";
    return ok;
}

int isf_gram_atom_char(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f)
        return 0;
    return strchr("(){%*\"\\]", ch) == NULL;
}

int isf_gram_atom(const char *s, size_t n, const char **why)
{
    size_t i;

    if (n == 0) {
        if (why)
            *why = "an atom cannot be empty";
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (isf_gram_atom_char((unsigned char)s[i]))
            continue;
        if (why)
            *why = "an atom cannot hold space, ( ) { % * \" \\ ], controls"
                   " or 8-bit bytes";
        return 0;
    }
    return 1;
}

int isf_gram_flag(const char *s, size_t n, const char **why)
{
    if (n == 2 && s[0] == '\\' && s[1] == '*') {
        if (why)
            *why = "\\* only appears in PERMANENTFLAGS, it cannot be set";
        return 0;
    }
    if (n > 0 && s[0] == '\\') {
        s++;
        n--;
    }
    if (isf_gram_atom(s, n, NULL))
        return 1;
    if (why)
        *why = "a flag is an atom, or \\ and an atom (no space, ( ) { % *"
               " \" \\ ], controls or 8-bit bytes)";
    return 0;
}

/* number (nz = 0) or nz-number (nz = 1), at most 4294967295. */
static int number(struct cur *p, int nz)
{
    unsigned long long v = 0;
    size_t start = p->i;

    if (nz && peek(p) == '0')
        return bad(p, "a number here must not start with 0");
    while (is_digit(peek(p))) {
        v = v * 10 + (unsigned)(peek(p) - '0');
        if (v > 0xffffffffULL)
            return bad(p, "a number is larger than 4294967295");
        p->i++;
    }
    if (p->i == start)
        return bad(p, "a number is missing");
    return 1;
}

static int seq_number(struct cur *p)
{
    if (peek(p) == '*') {
        p->i++;
        return 1;
    }
    return number(p, 1);
}

int isf_gram_seqset(const char *s, size_t n, const char **why)
{
    struct cur p = {s, n, 0, NULL};
    int ok;

    if (n == 1 && s[0] == '$')
        return 1;
    do {
        ok = seq_number(&p);
        if (ok && peek(&p) == ':') {
            p.i++;
            ok = seq_number(&p);
        }
    } while (ok && peek(&p) == ',' && ++p.i);
    return done(&p, ok, why);
}

/* header-fld-name as an atom or a quoted string of printable ASCII. */
static int field_name(struct cur *p)
{
    size_t start = p->i;

    if (peek(p) != '"') {
        while (peek(p) >= 0 && isf_gram_atom_char((unsigned char)peek(p)))
            p->i++;
        return p->i > start ? 1 : bad(p, "a header field name is missing");
    }
    for (p->i++;; p->i++) {
        int ch = peek(p);

        if (ch == '"') {
            p->i++;
            return 1;
        }
        if (ch == '\\') {
            p->i++;
            ch = peek(p);
            if (ch != '"' && ch != '\\')
                return bad(p, "a quoted field name may escape only \" and"
                              " \\");
        }
        if (ch < 0x20 || ch > 0x7e)
            return bad(p, "a quoted field name is unterminated or holds"
                          " a control or 8-bit byte");
    }
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" */
static int header_list(struct cur *p)
{
    const char *why = "HEADER.FIELDS needs a list: HEADER.FIELDS (FROM TO)";

    if (!expect(p, ' ', why) || !expect(p, '(', why) || !field_name(p))
        return 0;
    while (peek(p) == ' ') {
        p->i++;
        if (!field_name(p))
            return 0;
    }
    return expect(p, ')', "a header field list must end with )");
}

/* section-msgtext, and "MIME" when after a part number. */
static int section_text(struct cur *p, int mime)
{
    if (kw(p, "HEADER.FIELDS.NOT") || kw(p, "HEADER.FIELDS"))
        return header_list(p);
    if (kw(p, "HEADER") || kw(p, "TEXT") || (mime && kw(p, "MIME")))
        return 1;
    return bad(p, "a section is HEADER, HEADER.FIELDS[.NOT] (...), TEXT,"
                  " a part number like 1.2, or a part and one of these");
}

/* section-part: nz-number *("." nz-number); stops before ".TEXT" etc. */
static int section_part(struct cur *p)
{
    if (!number(p, 1))
        return 0;
    while (peek(p) == '.' && p->i + 1 < p->n && is_digit(p->s[p->i + 1])) {
        p->i++;
        if (!number(p, 1))
            return 0;
    }
    return 1;
}

/* "[" [section-spec] "]", or with binary "[" [section-part] "]". */
static int section(struct cur *p, int binary)
{
    if (!expect(p, '[', "a section in brackets is required here, e.g. []"))
        return 0;
    if (peek(p) == ']') {
        p->i++;
        return 1;
    }
    if (is_digit(peek(p))) {
        if (!section_part(p))
            return 0;
        if (!binary && peek(p) == '.') {
            p->i++;
            if (!section_text(p, 1))
                return 0;
        }
    } else if (binary || !section_text(p, 0)) {
        return binary ? bad(p, "a BINARY section holds only a part number")
                      : 0;
    }
    return expect(p, ']', "a section must end with ]");
}

/* [partial]: "<" number "." nz-number ">" */
static int partial(struct cur *p)
{
    if (peek(p) != '<')
        return 1;
    p->i++;
    if (number(p, 0) && expect(p, '.', NULL) && number(p, 1) &&
        expect(p, '>', NULL))
        return 1;
    /* One reason for every way of getting it wrong. */
    p->why = "a partial range is <first byte.count>, count not 0, numbers"
             " below 2^32, e.g. <0.100>";
    return 0;
}

/* What may follow each fetch item name. */
enum after {
    A_NOTHING,      /* plain item */
    A_OPT_SECTION,  /* BODY: alone, or with a section and partial */
    A_SECTION,      /* BODY.PEEK: section, optional partial */
    A_BINARY,       /* BINARY[.PEEK]: binary section, optional partial */
    A_BINARY_ONLY   /* BINARY.SIZE: binary section, no partial */
};

static const struct item {
    const char *name;
    enum after after;
} items[] = {
    {"ENVELOPE", A_NOTHING},       {"FLAGS", A_NOTHING},
    {"INTERNALDATE", A_NOTHING},   {"RFC822", A_NOTHING},
    {"RFC822.HEADER", A_NOTHING},  {"RFC822.SIZE", A_NOTHING},
    {"RFC822.TEXT", A_NOTHING},    {"BODYSTRUCTURE", A_NOTHING},
    {"UID", A_NOTHING},            {"MODSEQ", A_NOTHING},
    {"EMAILID", A_NOTHING},        {"THREADID", A_NOTHING},
    {"SAVEDATE", A_NOTHING},       {"BODY", A_OPT_SECTION},
    {"BODY.PEEK", A_SECTION},      {"BINARY", A_BINARY},
    {"BINARY.PEEK", A_BINARY},     {"BINARY.SIZE", A_BINARY_ONLY},
};

/* Gmail's items: X-GM- and letters, digits or dashes. */
static int gmail_item(const char *s, size_t n)
{
    struct cur p = {s, n, 0, NULL};
    size_t i;

    if (!kw(&p, "X-GM-") || n == 5)
        return 0;
    for (i = 5; i < n; i++)
        if (!(is_digit(s[i]) || s[i] == '-' ||
              (upper(s[i]) >= 'A' && upper(s[i]) <= 'Z')))
            return 0;
    return 1;
}

static const struct item *find_item(const char *s, size_t n)
{
    static const struct item gmail = {"X-GM-", A_NOTHING};
    size_t k;

    for (k = 0; k < sizeof items / sizeof *items; k++) {
        struct cur p = {s, n, 0, NULL};

        if (strlen(items[k].name) == n && kw(&p, items[k].name))
            return &items[k];
    }
    return gmail_item(s, n) ? &gmail : NULL;
}

int isf_gram_fetch_att(const char *s, size_t n, const char **why)
{
    struct cur p = {s, n, 0, NULL};
    const char *open = memchr(s, '[', n);
    size_t name_len = open ? (size_t)(open - s) : n;
    const struct item *it = find_item(s, name_len);
    int ok = 1;

    if (it == NULL)
        ok = bad(&p, "not a fetch item (ENVELOPE, FLAGS, INTERNALDATE,"
                     " RFC822.SIZE, BODY[...], BODY.PEEK[...], BINARY[...],"
                     " UID, ...)");
    else
        p.i = name_len;
    if (ok && it->after == A_NOTHING && p.i < n)
        ok = bad(&p, "this fetch item takes no section");
    else if (ok && it->after != A_NOTHING &&
             !(it->after == A_OPT_SECTION && p.i == n))
        ok = section(&p, it->after >= A_BINARY) &&
             (it->after == A_BINARY_ONLY || partial(&p));
    return done(&p, ok, why);
}
