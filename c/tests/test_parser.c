/* test_parser.c: unit tests of the incremental IMAP response parser
 * (parser.c): every fixture fed whole, split at every offset and byte by
 * byte, limits, malformed input and memory that follows the bytes. */
#include "buf.h"
#include "err.h"
#include "parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* ---- canonical form of a response --------------------------------------- */

static void put_quoted(struct isf_buf *o, const char *s, size_t n)
{
    size_t i;

    isf_buf_putc(o, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            isf_buf_printf(o, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            isf_buf_printf(o, "\\x%02x", c);
        else
            isf_buf_putc(o, (char)c);
    }
    isf_buf_putc(o, '"');
}

/* Appends node i and its subtree; returns the index after the subtree. */
static size_t put_node(struct isf_buf *o, const struct isf_response *r,
                       size_t i)
{
    const struct isf_node *n = &r->nodes[i];
    size_t j, k;

    switch (n->type) {
    case ISF_NODE_ATOM:
        isf_buf_puts(o, "A:");
        isf_buf_append(o, r->bytes + n->off, n->len);
        break;
    case ISF_NODE_NUMBER:
        isf_buf_printf(o, "N:%llu", (unsigned long long)n->num);
        break;
    case ISF_NODE_NIL:
        isf_buf_puts(o, "NIL");
        break;
    case ISF_NODE_STRING:
        isf_buf_puts(o, n->flags & ISF_NF_LITERAL8  ? "L8:"
                        : n->flags & ISF_NF_LITERAL ? "L:"
                                                    : "S:");
        put_quoted(o, r->bytes + n->off, n->len);
        break;
    case ISF_NODE_LIST:
        isf_buf_putc(o, '(');
        for (j = i + 1, k = 0; k < n->count; k++) {
            if (k)
                isf_buf_putc(o, ' ');
            j = put_node(o, r, j);
        }
        isf_buf_putc(o, ')');
        CHECK(j == n->end, "list %zu: children end at %zu, end=%u", i, j,
              n->end);
        return n->end;
    default:
        CHECK(0, "node %zu has type %d", i, n->type);
    }
    CHECK(n->end == i + 1, "leaf %zu has end %u", i, n->end);
    return i + 1;
}

static void put_response(struct isf_buf *o, const struct isf_response *r)
{
    static const char *const st[] = {"", "OK", "NO", "BAD", "PREAUTH",
                                     "BYE"};

    if (r->kind == ISF_RESP_TAGGED) {
        isf_buf_puts(o, "T:");
        isf_buf_append(o, r->bytes + r->tag_off, r->tag_len);
    } else {
        isf_buf_puts(o, r->kind == ISF_RESP_UNTAGGED ? "*" : "+");
    }
    isf_buf_putc(o, ' ');
    CHECK(r->nnodes >= 1 && r->nodes[0].type == ISF_NODE_LIST, "no root");
    put_node(o, r, 0);
    if (r->status != ISF_ST_NONE)
        isf_buf_printf(o, " ST:%s", st[r->status]);
    if (r->has_code) {
        isf_buf_puts(o, " [");
        isf_buf_append(o, r->bytes + r->code_off, r->code_len);
        isf_buf_puts(o, "]=");
        CHECK(r->code_node >= r->nodes[0].end, "code node inside the root");
        CHECK(r->code_node < r->nnodes, "code node out of range");
        if (r->code_node < r->nnodes)
            put_node(o, r, r->code_node);
        CHECK(r->nodes[r->code_node].end == r->nnodes, "nodes after code");
    } else {
        CHECK(r->nodes[0].end == r->nnodes, "nodes after the root");
    }
    if (r->status != ISF_ST_NONE || r->kind == ISF_RESP_CONTINUE) {
        isf_buf_puts(o, " text=");
        put_quoted(o, r->bytes + r->text_off, r->text_len);
    }
}

/* ---- feeding ------------------------------------------------------------ */

/* Feeds in[0..n) cut at the given offsets, each chunk in its own heap copy
 * freed right after (so ASan catches any pointer kept into it). Appends
 * the canonical form of each response, one per line, to out. Returns 0 or
 * the error code. */
static int run(const char *in, size_t n, const size_t *cuts, size_t ncuts,
               const struct isf_limits *lim, struct isf_buf *out,
               struct isf_error *e)
{
    struct isf_parser *p = isf_parser_new(lim);
    size_t c, from = 0, wire = 0;
    int rc = 0;

    for (c = 0; c <= ncuts && rc == 0; c++) {
        size_t to = c < ncuts ? cuts[c] : n, off = 0;
        char *chunk = malloc(to - from + 1);
        memcpy(chunk, in + from, to - from);
        while (off < to - from) {
            int ready;
            long k = isf_parser_feed(p, chunk + off, to - from - off, &ready,
                                     e);
            if (k < 0) {
                rc = (int)k;
                break;
            }
            off += (size_t)k;
            if (!ready) {
                CHECK(isf_parser_response(p) == NULL, "response not ready");
                CHECK(off == to - from, "stopped early without a response");
                break;
            }
            wire += isf_parser_response(p)->wire_len;
            put_response(out, isf_parser_response(p));
            isf_buf_putc(out, '\n');
            isf_parser_release(p);
        }
        free(chunk);
        from = to;
    }
    if (rc == 0 && isf_parser_busy(p))
        isf_buf_puts(out, "<incomplete>\n");
    else if (rc == 0)
        CHECK(wire == n, "wire_len total %zu, fed %zu", wire, n);
    isf_parser_free(p);
    return rc;
}

/* Every way of cutting that the tests use: whole, two chunks at every
 * offset, byte by byte. Calls back with each result. */
typedef void (*check_fn)(const void *fx, const char *how, int rc,
                         const char *out, const struct isf_error *e);

static void all_splits(const char *in, size_t n, const struct isf_limits *l,
                       check_fn fn, const void *fx)
{
    struct isf_buf out;
    struct isf_error e;
    size_t *cuts = malloc((n + 1) * sizeof *cuts), k;
    char how[64];
    int rc;

    isf_buf_init(&out, (size_t)-1);
    for (k = 0; k < n; k++) {
        isf_buf_reset(&out);
        isf_error_clear(&e);
        cuts[0] = k;
        rc = run(in, n, cuts, k ? 1 : 0, l, &out, &e);
        snprintf(how, sizeof how, k ? "split at %zu" : "whole", k);
        fn(fx, how, rc, out.data ? out.data : "", &e);
    }
    for (k = 1; k < n; k++)
        cuts[k - 1] = k;
    isf_buf_reset(&out);
    isf_error_clear(&e);
    rc = run(in, n, cuts, n ? n - 1 : 0, l, &out, &e);
    fn(fx, "byte by byte", rc, out.data ? out.data : "", &e);
    isf_buf_free(&out);
    free(cuts);
}

/* ---- good fixtures ------------------------------------------------------ */

struct fixture {
    const char *name;
    const char *in;
    size_t len;
    const char *want; /* canonical responses, one per line */
};

#define FX(name, in, want) {name, in, sizeof in - 1, want}

static const struct fixture fixtures[] = {
    FX("greeting",
       "* OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS] Dovecot ready.\r\n",
       "* (A:OK) ST:OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS]=(A:CAPABILITY"
       " A:IMAP4rev1 A:LITERAL+ A:STARTTLS) text=\"Dovecot ready.\"\n"),
    FX("preauth", "* PREAUTH IMAP4rev1 server logged in as Smith\r\n",
       "* (A:PREAUTH) ST:PREAUTH text=\"IMAP4rev1 server logged in as "
       "Smith\"\n"),
    FX("bye", "* BYE Autologout; idle for too long\r\n",
       "* (A:BYE) ST:BYE text=\"Autologout; idle for too long\"\n"),
    FX("tagged ok", "A001 OK LOGIN completed\r\n",
       "T:A001 (A:OK) ST:OK text=\"LOGIN completed\"\n"),
    FX("tagged no code", "A2 NO [TRYCREATE] Mailbox doesn't exist\r\n",
       "T:A2 (A:NO) ST:NO [TRYCREATE]=(A:TRYCREATE) text=\"Mailbox doesn't "
       "exist\"\n"),
    FX("tagged bad", "A3 BAD Command unknown or arguments invalid\r\n",
       "T:A3 (A:BAD) ST:BAD text=\"Command unknown or arguments invalid\"\n"),
    FX("tagged bad code", "A3 BAD [CLIENTBUG] no\r\n",
       "T:A3 (A:BAD) ST:BAD [CLIENTBUG]=(A:CLIENTBUG) text=\"no\"\n"),
    FX("lowercase bare", "a1 ok\r\n", "T:a1 (A:ok) ST:OK text=\"\"\n"),
    FX("bare with space", "A1 OK \r\n", "T:A1 (A:OK) ST:OK text=\"\"\n"),
    FX("mixed case bye", "* bYe later\r\n",
       "* (A:bYe) ST:BYE text=\"later\"\n"),
    FX("code without space", "* OK [ALERT]text\r\n",
       "* (A:OK) ST:OK [ALERT]=(A:ALERT) text=\"text\"\n"),
    FX("only code", "* OK [READ-ONLY]\r\n",
       "* (A:OK) ST:OK [READ-ONLY]=(A:READ-ONLY) text=\"\"\n"),
    FX("only code tagged", "A5 OK [READ-WRITE] \r\n",
       "T:A5 (A:OK) ST:OK [READ-WRITE]=(A:READ-WRITE) text=\"\"\n"),
    FX("permanentflags",
       "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
       "* (A:OK) ST:OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)]=(A:PERMANENT"
       "FLAGS (A:\\Deleted A:\\Seen A:\\*)) text=\"Limited\"\n"),
    FX("copyuid", "A4 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
       "T:A4 (A:OK) ST:OK [COPYUID 38505 304,319:320 3956:3958]=(A:COPYUID "
       "N:38505 A:304,319:320 A:3956:3958) text=\"Done\"\n"),
    FX("appenduid", "A5 OK [APPENDUID 38505 3955] APPEND completed\r\n",
       "T:A5 (A:OK) ST:OK [APPENDUID 38505 3955]=(A:APPENDUID N:38505 "
       "N:3955) text=\"APPEND completed\"\n"),
    FX("uidnext", "* OK [UIDNEXT 5] Predicted next UID\r\n",
       "* (A:OK) ST:OK [UIDNEXT 5]=(A:UIDNEXT N:5) text=\"Predicted next "
       "UID\"\n"),
    FX("uidvalidity", "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
       "* (A:OK) ST:OK [UIDVALIDITY 3857529045]=(A:UIDVALIDITY "
       "N:3857529045) text=\"UIDs valid\"\n"),
    FX("unseen", "* OK [UNSEEN 17] Message 17 is first unseen\r\n",
       "* (A:OK) ST:OK [UNSEEN 17]=(A:UNSEEN N:17) text=\"Message 17 is "
       "first unseen\"\n"),
    FX("highestmodseq", "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
       "* (A:OK) ST:OK [HIGHESTMODSEQ 715194045007]=(A:HIGHESTMODSEQ "
       "N:715194045007) text=\"Highest\"\n"),
    FX("nomodseq", "* OK [NOMODSEQ] Sorry\r\n",
       "* (A:OK) ST:OK [NOMODSEQ]=(A:NOMODSEQ) text=\"Sorry\"\n"),
    FX("alert", "* OK [ALERT] System shutdown in 10 minutes\r\n",
       "* (A:OK) ST:OK [ALERT]=(A:ALERT) text=\"System shutdown in 10 "
       "minutes\"\n"),
    FX("referral", "A6 NO [REFERRAL imap://x/] Try there\r\n",
       "T:A6 (A:NO) ST:NO [REFERRAL imap://x/]=(A:REFERRAL A:imap://x/) "
       "text=\"Try there\"\n"),
    FX("badcharset list", "A7 NO [BADCHARSET (UTF-8 US-ASCII)] No\r\n",
       "T:A7 (A:NO) ST:NO [BADCHARSET (UTF-8 US-ASCII)]=(A:BADCHARSET "
       "(A:UTF-8 A:US-ASCII)) text=\"No\"\n"),
    FX("badcharset bare", "A7 NO [BADCHARSET] No\r\n",
       "T:A7 (A:NO) ST:NO [BADCHARSET]=(A:BADCHARSET) text=\"No\"\n"),
    FX("appendlimit", "* OK [APPENDLIMIT 35651584] limit\r\n",
       "* (A:OK) ST:OK [APPENDLIMIT 35651584]=(A:APPENDLIMIT N:35651584) "
       "text=\"limit\"\n"),
    FX("closed", "* OK [CLOSED] Previous mailbox closed\r\n",
       "* (A:OK) ST:OK [CLOSED]=(A:CLOSED) text=\"Previous mailbox "
       "closed\"\n"),
    FX("code quoted arg", "* NO [X-THING \"a ]b\" NIL 7] hm\r\n",
       "* (A:NO) ST:NO [X-THING \"a ]=(A:X-THING) text=\"b\\\" NIL 7] hm\"\n"),
    FX("code quoted arg escaped", "* NO [X-T \"a\\\"b\" nil] hm\r\n",
       "* (A:NO) ST:NO [X-T \"a\\\"b\" nil]=(A:X-T S:\"a\\\"b\" NIL) "
       "text=\"hm\"\n"),
    FX("code untokenizable", "* NO [X-BAD (a b] text\r\n",
       "* (A:NO) ST:NO [X-BAD (a b]=(A:X-BAD) text=\"text\"\n"),
    FX("code untokenizable paren", "* NO [X-BAD a)] text\r\n",
       "* (A:NO) ST:NO [X-BAD a)]=(A:X-BAD) text=\"text\"\n"),
    FX("code numeric name", "* NO [123 4] x\r\n",
       "* (A:NO) ST:NO [123 4]=(A:123) text=\"x\"\n"),
    FX("code empty", "* NO [] x\r\n", "* (A:NO) ST:NO []=() text=\"x\"\n"),
    FX("text with brackets later", "* OK hello [not a code]\r\n",
       "* (A:OK) ST:OK text=\"hello [not a code]\"\n"),
    FX("capability",
       "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED\r\n",
       "* (A:CAPABILITY A:IMAP4rev1 A:STARTTLS A:AUTH=PLAIN "
       "A:LOGINDISABLED)\n"),
    FX("list nil delimiter", "* LIST (\\Noselect) NIL \"\"\r\n",
       "* (A:LIST (A:\\Noselect) NIL S:\"\")\n"),
    FX("list quoted", "* LIST (\\HasNoChildren) \".\" \"Sent Items\"\r\n",
       "* (A:LIST (A:\\HasNoChildren) S:\".\" S:\"Sent Items\")\n"),
    FX("list literal name", "* LIST (\\Marked) \"/\" {5}\r\nfo)o\"\r\n",
       "* (A:LIST (A:\\Marked) S:\"/\" L:\"fo)o\\\"\")\n"),
    FX("list tilde atom", "* LIST () \"/\" ~/Mail/foo\r\n",
       "* (A:LIST () S:\"/\" A:~/Mail/foo)\n"),
    FX("list extended",
       "* LIST () \"/\" x (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
       "* (A:LIST () S:\"/\" A:x (S:\"CHILDINFO\" (S:\"SUBSCRIBED\")))\n"),
    FX("lsub", "* LSUB () \".\" #news.comp.mail.misc\r\n",
       "* (A:LSUB () S:\".\" A:#news.comp.mail.misc)\n"),
    FX("status",
       "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
       "* (A:STATUS A:blurdybloop (A:MESSAGES N:231 A:UIDNEXT N:44292))\n"),
    FX("status literal name", "* STATUS {3}\r\na b (MESSAGES 0)\r\n",
       "* (A:STATUS L:\"a b\" (A:MESSAGES N:0))\n"),
    FX("search", "* SEARCH 2 3 6\r\n", "* (A:SEARCH N:2 N:3 N:6)\n"),
    FX("search empty", "* SEARCH\r\n", "* (A:SEARCH)\n"),
    FX("search modseq", "* SEARCH 1 5 (MODSEQ 917162500)\r\n",
       "* (A:SEARCH N:1 N:5 (A:MODSEQ N:917162500))\n"),
    FX("esearch",
       "* ESEARCH (TAG \"A282\") UID MIN 2 COUNT 3 ALL 2,10:11\r\n",
       "* (A:ESEARCH (A:TAG S:\"A282\") A:UID A:MIN N:2 A:COUNT N:3 A:ALL "
       "A:2,10:11)\n"),
    FX("flags", "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
       "* (A:FLAGS (A:\\Answered A:\\Flagged A:\\Deleted A:\\Seen "
       "A:\\Draft))\n"),
    FX("exists", "* 23 EXISTS\r\n", "* (N:23 A:EXISTS)\n"),
    FX("recent", "* 5 RECENT\r\n", "* (N:5 A:RECENT)\n"),
    FX("expunge", "* 44 EXPUNGE\r\n", "* (N:44 A:EXPUNGE)\n"),
    FX("fetch simple",
       "* 12 FETCH (FLAGS (\\Seen $Junk) INTERNALDATE \"17-Jul-1996 02:44:25 "
       "-0700\" RFC822.SIZE 4286 UID 7 MODSEQ (12121231000))\r\n",
       "* (N:12 A:FETCH (A:FLAGS (A:\\Seen A:$Junk) A:INTERNALDATE "
       "S:\"17-Jul-1996 02:44:25 -0700\" A:RFC822.SIZE N:4286 A:UID N:7 "
       "A:MODSEQ (N:12121231000)))\n"),
    FX("fetch envelope",
       "* 1 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
       "\"IMAP4rev1 WG mtg\" ((\"Terry Gray\" NIL \"gray\" \"cac.edu\")) "
       "((\"Terry Gray\" NIL \"gray\" \"cac.edu\")) NIL "
       "((NIL NIL \"imap\" \"cac.edu\")) "
       "((NIL NIL \"minutes\" \"CNRI.US\")(\"John\" NIL \"KL\" \"MIT.EDU\")) "
       "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL "
       "\"<B27397-0100000@cac.edu>\"))\r\n",
       "* (N:1 A:FETCH (A:ENVELOPE (S:\"Wed, 17 Jul 1996 02:23:25 -0700 "
       "(PDT)\" S:\"IMAP4rev1 WG mtg\" ((S:\"Terry Gray\" NIL S:\"gray\" "
       "S:\"cac.edu\")) ((S:\"Terry Gray\" NIL S:\"gray\" S:\"cac.edu\")) "
       "NIL ((NIL NIL S:\"imap\" S:\"cac.edu\")) ((NIL NIL S:\"minutes\" "
       "S:\"CNRI.US\") (S:\"John\" NIL S:\"KL\" S:\"MIT.EDU\")) ((NIL NIL "
       "S:\"undisclosed-recipients\" NIL) (NIL NIL NIL NIL)) NIL "
       "S:\"<B27397-0100000@cac.edu>\")))\n"),
    FX("fetch bodystructure",
       "* 3 FETCH (BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
       "\"US-ASCII\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)(\"TEXT\" "
       "\"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 20 2 "
       "NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"b2\") NIL NIL NIL)"
       "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") NIL NIL \"BASE64\" "
       "3000 NIL (\"ATTACHMENT\" (\"FILENAME\" \"a.pdf\")) NIL NIL) "
       "\"MIXED\" (\"BOUNDARY\" \"b1\") NIL (\"en\" \"de\") "
       "\"http://x/\"))\r\n",
       "* (N:3 A:FETCH (A:BODYSTRUCTURE (((S:\"TEXT\" S:\"PLAIN\" "
       "(S:\"CHARSET\" S:\"US-ASCII\") NIL NIL S:\"7BIT\" N:10 N:1 NIL NIL "
       "NIL NIL) (S:\"TEXT\" S:\"HTML\" (S:\"CHARSET\" S:\"utf-8\") NIL NIL "
       "S:\"QUOTED-PRINTABLE\" N:20 N:2 NIL NIL NIL NIL) S:\"ALTERNATIVE\" "
       "(S:\"BOUNDARY\" S:\"b2\") NIL NIL NIL) (S:\"APPLICATION\" S:\"PDF\" "
       "(S:\"NAME\" S:\"a.pdf\") NIL NIL S:\"BASE64\" N:3000 NIL "
       "(S:\"ATTACHMENT\" (S:\"FILENAME\" S:\"a.pdf\")) NIL NIL) "
       "S:\"MIXED\" (S:\"BOUNDARY\" S:\"b1\") NIL (S:\"en\" S:\"de\") "
       "S:\"http://x/\")))\n"),
    FX("fetch body section origin",
       "* 2 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {22}\r\n"
       "Subject: hi\r\nFrom: x\r\n BODY[] {3}\r\nabc)\r\n",
       "* (N:2 A:FETCH (A:UID N:9 A:BODY[HEADER.FIELDS (SUBJECT FROM)]<0> "
       "L:\"Subject: hi\\x0d\\x0aFrom: x\\x0d\\x0a\" A:BODY[] L:\"abc\"))\n"),
    FX("fetch body quoted and nil",
       "* 2 FETCH (BODY[1.MIME] \"x\" BODY[2] NIL BODY[TEXT]<10> "
       "\"\")\r\n",
       "* (N:2 A:FETCH (A:BODY[1.MIME] S:\"x\" A:BODY[2] NIL "
       "A:BODY[TEXT]<10> S:\"\"))\n"),
    FX("bracket with quoted bracket",
       "* 2 FETCH (BODY[HEADER.FIELDS (\"A]B\" \"C\\\"\")] NIL)\r\n",
       "* (N:2 A:FETCH (A:BODY[HEADER.FIELDS (\"A]B\" \"C\\\"\")] NIL))\n"),
    FX("binary literal8",
       "* 4 FETCH (BINARY[1.2] ~{6}\r\n\0\xff\xfe\r\n\x80 BINARY.SIZE[1.2] "
       "6)\r\n",
       "* (N:4 A:FETCH (A:BINARY[1.2] L8:\"\\x00\\xff\\xfe\\x0d\\x0a\\x80\" "
       "A:BINARY.SIZE[1.2] N:6))\n"),
    FX("literal is data",
       "* 3 FETCH (BODY[] {35}\r\nline\r\nA0007 OK done\r\n* BYE x\r\n"
       "(((\r\n)\r\nA0007 OK done\r\n",
       "* (N:3 A:FETCH (A:BODY[] L:\"line\\x0d\\x0aA0007 OK done\\x0d\\x0a* "
       "BYE x\\x0d\\x0a(((\\x0d\\x0a\"))\n"
       "T:A0007 (A:OK) ST:OK text=\"done\"\n"),
    FX("empty literals", "* X {0}\r\n ~{0}\r\n ({0}\r\n)\r\n",
       "* (A:X L:\"\" L8:\"\" (L:\"\"))\n"),
    FX("literal with LF only", "* X {2}\na\n b\n",
       "* (A:X L:\"a\\x0a\" A:b)\n"),
    FX("namespace", "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) NIL\r\n",
       "* (A:NAMESPACE ((S:\"\" S:\"/\")) ((S:\"~\" S:\"/\")) NIL)\n"),
    FX("enabled", "* ENABLED CONDSTORE QRESYNC\r\n",
       "* (A:ENABLED A:CONDSTORE A:QRESYNC)\n"),
    FX("id", "* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n",
       "* (A:ID (S:\"name\" S:\"Dovecot\" S:\"version\" NIL))\n"),
    FX("id nil", "* ID nil\r\n", "* (A:ID NIL)\n"),
    FX("continuation", "+ go ahead\r\n", "+ () text=\"go ahead\"\n"),
    FX("continuation bare", "+\r\n", "+ () text=\"\"\n"),
    FX("continuation space", "+ \r\n", "+ () text=\"\"\n"),
    FX("continuation code", "+ [ALERT] hi\r\n",
       "+ () [ALERT]=(A:ALERT) text=\"hi\"\n"),
    FX("continuation base64", "+ YGgGCSqGSIb3EgECAgIAb1kwV6A=\r\n",
       "+ () text=\"YGgGCSqGSIb3EgECAgIAb1kwV6A=\"\n"),
    FX("lone LF", "* 1 EXISTS\nA1 OK done\n",
       "* (N:1 A:EXISTS)\nT:A1 (A:OK) ST:OK text=\"done\"\n"),
    FX("extra spaces", "*  1  FETCH  ( UID  5 ) \r\n",
       "* (N:1 A:FETCH (A:UID N:5))\n"),
    FX("empty and nested lists", "* X () (()) ((a)(b))\r\n",
       "* (A:X () (()) ((A:a) (A:b)))\n"),
    FX("numbers", "* X 0 9223372036854775807 9223372036854775808 "
       "99999999999999999999 007\r\n",
       "* (A:X N:0 N:9223372036854775807 A:9223372036854775808 "
       "A:99999999999999999999 N:7)\n"),
    FX("nil variants", "* X nil Nil NILS \"NIL\"\r\n",
       "* (A:X NIL NIL A:NILS S:\"NIL\")\n"),
    FX("quoted escapes", "* X \"a\\\"b\\\\c\" \"\xc3\xa9\"\r\n",
       "* (A:X S:\"a\\\"b\\\\c\" S:\"\\xc3\\xa9\")\n"),
    FX("odd atoms", "* X a]b ~ ~x x{a} FOO(bar) \\* %\r\n",
       "* (A:X A:a]b A:~ A:~x A:x{a} A:FOO (A:bar) A:\\* A:%)\n"),
    FX("tag chars", "a]b.1 OK x\r\n", "T:a]b.1 (A:OK) ST:OK text=\"x\"\n"),
    FX("stream",
       "* OK IMAP4rev1 ready\r\nA1 OK [CAPABILITY IMAP4rev1] done\r\n"
       "* 2 EXISTS\r\n* 1 FETCH (BODY[] {2}\r\nhi)\r\n+ more\r\n"
       "A2 NO nope\r\n",
       "* (A:OK) ST:OK text=\"IMAP4rev1 ready\"\n"
       "T:A1 (A:OK) ST:OK [CAPABILITY IMAP4rev1]=(A:CAPABILITY A:IMAP4rev1)"
       " text=\"done\"\n"
       "* (N:2 A:EXISTS)\n"
       "* (N:1 A:FETCH (A:BODY[] L:\"hi\"))\n"
       "+ () text=\"more\"\n"
       "T:A2 (A:NO) ST:NO text=\"nope\"\n"),
    FX("incomplete", "* 1 FETCH (BODY[] {5}\r\nab",
       "<incomplete>\n"),
};

static void check_good(const void *fxp, const char *how, int rc,
                       const char *out, const struct isf_error *e)
{
    const struct fixture *fx = fxp;

    CHECK(rc == 0, "%s (%s): error %d: %s", fx->name, how, rc, e->msg);
    CHECK(rc != 0 || strcmp(out, fx->want) == 0,
          "%s (%s):\n got: %s\nwant: %s", fx->name, how, out, fx->want);
}

static void test_fixtures(void)
{
    size_t i;

    for (i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        all_splits(fixtures[i].in, fixtures[i].len, NULL, check_good,
                   &fixtures[i]);
}

/* ---- errors ------------------------------------------------------------- */

struct bad {
    const char *name;
    const char *in;
    size_t len;
    int code;
    const char *msg; /* expected substring of the message */
    struct isf_limits lim;
};

#define LIM(line, lit, resp, depth, nodes) {line, lit, resp, depth, nodes}
#define DEF LIM(1 << 20, 1 << 30, (size_t)2 << 30, 64, 1 << 24)
#define BAD(name, in, code, msg, lim) {name, in, sizeof in - 1, code, msg, lim}

static const struct bad bads[] = {
    BAD("bad literal size", "* 1 FETCH (BODY[] {12x}\r\n", ISF_EPROTO,
        "bad byte 0x78 in a literal size at offset 21", DEF),
    BAD("empty literal size", "* X {}\r\n", ISF_EPROTO,
        "literal size at offset 5", DEF),
    BAD("literal plus", "* X {3+}\r\nabc\r\n", ISF_EPROTO, "0x2b", DEF),
    BAD("literal no crlf", "* X {3}abc\r\n", ISF_EPROTO,
        "expected CRLF after a literal size at offset 7", DEF),
    BAD("nul in text", "* OK hi\0there\r\n", ISF_EPROTO,
        "NUL byte outside a literal at offset 7", DEF),
    BAD("nul in atom", "* X a\0\r\n", ISF_EPROTO, "NUL byte", DEF),
    BAD("nul in quoted", "* X \"a\0\"\r\n", ISF_EPROTO, "NUL byte", DEF),
    BAD("unterminated quote", "* X \"abc\r\n", ISF_EPROTO,
        "unterminated quoted string at offset 8", DEF),
    BAD("bad escape", "* X \"a\\nb\"\r\n", ISF_EPROTO, "bad escape", DEF),
    BAD("close without open", "* X a)\r\n", ISF_EPROTO,
        "')' without '(' at offset 5", DEF),
    BAD("unclosed list", "* X (a (b)\r\n", ISF_EPROTO,
        "line ends with 1 list(s) still open", DEF),
    BAD("starts with paren", "(foo)\r\n", ISF_EPROTO,
        "response starts with byte 0x28", DEF),
    BAD("starts with CRLF", "\r\n* OK\r\n", ISF_EPROTO,
        "response starts with byte 0x0d", DEF),
    BAD("starts with space", " * OK\r\n", ISF_EPROTO,
        "response starts with byte 0x20", DEF),
    BAD("star without space", "*OK\r\n", ISF_EPROTO,
        "expected a space at offset 1", DEF),
    BAD("empty untagged", "* \r\n", ISF_EPROTO, "empty untagged", DEF),
    BAD("star alone", "*\r\n", ISF_EPROTO, "nothing after its '*'", DEF),
    BAD("tag alone", "A1\r\n", ISF_EPROTO, "without a status", DEF),
    BAD("tag space", "A1 \r\n", ISF_EPROTO, "without a status", DEF),
    BAD("tag not status", "A1 FETCH x\r\n", ISF_EPROTO,
        "does not start with OK, NO or BAD but with 'FETCH'", DEF),
    BAD("tag list", "A1 (OK)\r\n", ISF_EPROTO, "does not start with", DEF),
    BAD("tagged BYE", "A1 BYE x\r\n", ISF_EPROTO,
        "does not start with OK, NO or BAD but with 'BYE'", DEF),
    BAD("tagged PREAUTH", "A1 PREAUTH x\r\n", ISF_EPROTO,
        "does not start with OK, NO or BAD but with 'PREAUTH'", DEF),
    BAD("bad tag byte", "A{1 OK\r\n", ISF_EPROTO,
        "byte 0x7b in the tag at offset 1", DEF),
    BAD("plus in tag", "A+ OK\r\n", ISF_EPROTO, "in the tag", DEF),
    BAD("cr without lf", "* X a\rb\r\n", ISF_EPROTO,
        "CR not followed by LF at offset 6", DEF),
    BAD("junk after string", "* X \"a\"b\r\n", ISF_EPROTO,
        "expected a space after a token at offset 7", DEF),
    BAD("junk after literal", "* X {1}\r\nab\r\n", ISF_EPROTO,
        "expected a space after a token", DEF),
    BAD("unterminated code", "* OK [ALERT\r\n", ISF_EPROTO,
        "unterminated response code at offset 11", DEF),
    BAD("unterminated bracket", "* X BODY[abc\r\n", ISF_EPROTO,
        "unterminated '[' in an atom", DEF),
    BAD("line too long", "* X 123456789012345678901234567\r\n", ISF_ELIMIT,
        "line longer than max_line (32 bytes) at offset 32",
        LIM(32, 100, 1000, 8, 100)),
    BAD("line too long after literal",
        "* X {3}\r\nabc 123456789012345678901234567890\r\n", ISF_ELIMIT,
        "max_line (32 bytes)", LIM(32, 100, 1000, 8, 100)),
    BAD("literal too big", "* X {101}\r\n", ISF_ELIMIT,
        "literal of 101 bytes is larger than max_literal (100) at offset 8",
        LIM(32, 100, 1000, 8, 100)),
    BAD("literal huge", "* X {99999999999999999999999999}\r\n", ISF_ELIMIT,
        "larger than max_literal (100)", LIM(100, 100, 1000, 8, 100)),
    BAD("literal past response", "* X {90}\r\n", ISF_ELIMIT,
        "larger than max_response (50)", LIM(32, 100, 50, 8, 100)),
    BAD("response too long",
        "* X {20}\r\n01234567890123456789 {20}\r\n01234567890123456789\r\n",
        ISF_ELIMIT, "max_response (50", LIM(32, 100, 50, 8, 100)),
    BAD("too deep", "* X ((((a))))\r\n", ISF_ELIMIT,
        "lists nested deeper than max_depth (3) at offset 7",
        LIM(32, 100, 1000, 3, 100)),
    BAD("too many nodes", "* A B C D E\r\n", ISF_ELIMIT,
        "more than max_nodes (5) nodes at offset 10",
        LIM(32, 100, 1000, 3, 5)),
    BAD("too many nodes in code", "* OK [A B C D] x\r\n", ISF_ELIMIT,
        "more than max_nodes (3)", LIM(32, 100, 1000, 3, 3)),
};

static void check_bad(const void *bp, const char *how, int rc,
                      const char *out, const struct isf_error *e)
{
    const struct bad *b = bp;

    CHECK(rc == b->code, "%s (%s): got %d (%s), want %d", b->name, how, rc,
          e->msg, b->code);
    CHECK(rc != b->code || e->code == b->code, "%s: e->code %d", b->name,
          e->code);
    CHECK(rc != b->code || strstr(e->msg, b->msg),
          "%s (%s): message '%s' lacks '%s'", b->name, how, e->msg, b->msg);
}

static void test_errors(void)
{
    size_t i;

    for (i = 0; i < sizeof bads / sizeof *bads; i++)
        all_splits(bads[i].in, bads[i].len, &bads[i].lim, check_bad,
                   &bads[i]);
}

/* Limits that are just met pass; depth inside a code falls back. */
static void test_limits_met(void)
{
    static const struct {
        struct fixture fx;
        struct isf_limits lim;
    } ok[] = {
        {FX("line exactly max", "* X 12345678901234567890123456\r\n",
            "* (A:X A:12345678901234567890123456)\n"),
         {32, 5, 1000, 3, 100}},
        {FX("line after literal exactly max",
            "* X {3}\r\nabc 12345678901234567890123456789\r\n",
            "* (A:X L:\"abc\" A:12345678901234567890123456789)\n"),
         {32, 5, 1000, 3, 100}},
        {FX("depth exactly max", "* X (((a)))\r\n", "* (A:X (((A:a))))\n"),
         {32, 5, 1000, 3, 100}},
        {FX("nodes exactly max", "* A B C D\r\n", "* (A:A A:B A:C A:D)\n"),
         {32, 5, 1000, 3, 5}},
        {FX("literal exactly max", "* X {5}\r\nabcde\r\n",
            "* (A:X L:\"abcde\")\n"),
         {32, 5, 1000, 3, 100}},
        {FX("response exactly max", "* X {5}\r\nabcde\r\n",
            "* (A:X L:\"abcde\")\n"),
         {32, 5, 16, 3, 100}},
        {FX("code deeper than max", "* OK [X ((((a))))] t\r\n",
            "* (A:OK) ST:OK [X ((((a))))]=(A:X) text=\"t\"\n"),
         {32, 5, 1000, 3, 100}},
        {FX("code nodes past max", "* OK [X a b c] t\r\n",
            "* (A:OK) ST:OK [X a b c]=(A:X) text=\"t\"\n"),
         {32, 5, 1000, 3, 5}},
    };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof *ok; i++)
        all_splits(ok[i].fx.in, ok[i].fx.len, &ok[i].lim, check_good,
                   &ok[i].fx);
}

static void test_sticky_error(void)
{
    struct isf_parser *p = isf_parser_new(NULL);
    struct isf_error e1, e2;
    int ready = 7;
    long k;

    k = isf_parser_feed(p, "* X a)\r\n", 8, &ready, &e1);
    CHECK(k == ISF_EPROTO && ready == 0, "first error %ld", k);
    k = isf_parser_feed(p, "* OK\r\n", 6, &ready, &e2);
    CHECK(k == ISF_EPROTO, "second feed %ld", k);
    CHECK(strcmp(e1.msg, e2.msg) == 0, "'%s' vs '%s'", e1.msg, e2.msg);
    CHECK(isf_parser_response(p) == NULL, "response after error");
    isf_parser_free(p);
}

/* ---- the calling contract ----------------------------------------------- */

static void test_contract(void)
{
    struct isf_parser *p = isf_parser_new(NULL);
    const char *s = "* 1 EXISTS\r\n* 2 EXISTS\r\n";
    const struct isf_response *r;
    struct isf_error e;
    int ready;
    long k;

    CHECK(!isf_parser_busy(p), "busy when new");
    CHECK(isf_parser_response(p) == NULL, "response when new");
    k = isf_parser_feed(p, s, 3, &ready, &e);
    CHECK(k == 3 && !ready && isf_parser_busy(p), "partial %ld", k);
    isf_parser_release(p); /* nothing to release: must not lose bytes */
    k = isf_parser_feed(p, s + 3, strlen(s) - 3, &ready, &e);
    CHECK(k == 9 && ready, "stops after the first response: %ld", k);
    r = isf_parser_response(p);
    CHECK(r && r->wire_len == 12 && r->nodes[1].num == 1, "first response");
    k = isf_parser_feed(p, s + 12, 12, &ready, &e);
    CHECK(k == 0 && ready, "feeding while ready: %ld", k);
    isf_parser_release(p);
    CHECK(!isf_parser_busy(p), "busy after release");
    k = isf_parser_feed(p, s + 12, 12, &ready, &e);
    r = isf_parser_response(p);
    CHECK(k == 12 && ready && r && r->nodes[1].num == 2, "second");
    isf_parser_release(p);
    CHECK(isf_parser_response(p) == NULL, "response after release");
    k = isf_parser_feed(p, "", 0, &ready, &e);
    CHECK(k == 0 && !ready, "empty feed %ld", k);
    isf_parser_free(p);
}

/* ---- big literals and memory -------------------------------------------- */

static void test_big_literal(void)
{
    const size_t n = (size_t)64 << 20, chunk = (size_t)1 << 20;
    const char *head = "* 1 FETCH (BODY[] {67108864}\r\n";
    size_t hl = strlen(head), total = hl + n + 3, off = 0, i;
    char *in = malloc(total);
    struct isf_parser *p = isf_parser_new(NULL);
    const struct isf_response *r = NULL;
    struct isf_error e;
    int ready = 0;

    memcpy(in, head, hl);
    for (i = 0; i < n; i++)
        in[hl + i] = (char)(i * 7 + (i >> 11));
    memcpy(in + hl + n, ")\r\n", 3);
    while (off < total && !ready) {
        size_t m = total - off < chunk ? total - off : chunk;
        long k = isf_parser_feed(p, in + off, m, &ready, &e);
        CHECK(k >= 0, "big literal: %s", e.msg);
        if (k < 0)
            break;
        off += (size_t)k;
    }
    r = isf_parser_response(p);
    CHECK(ready && r && off == total, "big literal not parsed");
    if (r) {
        CHECK(r->nnodes == 6 && r->nodes[5].len == n, "big literal node");
        CHECK(memcmp(r->bytes + r->nodes[5].off, in + hl, n) == 0,
              "big literal bytes differ");
        CHECK(r->wire_len == total, "wire_len %zu", r->wire_len);
    }
    CHECK(isf_parser_memory(p) >= n, "memory %zu", isf_parser_memory(p));
    isf_parser_release(p);
    CHECK(isf_parser_memory(p) < ((size_t)1 << 20),
          "memory kept after release: %zu", isf_parser_memory(p));
    isf_parser_free(p);
    free(in);
}

/* A huge announced literal allocates nothing up front: memory follows the
 * bytes that actually arrive. */
static void test_no_upfront_allocation(void)
{
    struct isf_limits l;
    struct isf_parser *p;
    const char *head = "* 1 FETCH (BODY[] {1000000000}\r\n0123456789";
    static char more[1 << 20];
    struct isf_error e;
    size_t before;
    int ready;
    long k;

    isf_limits_default(&l);
    l.max_literal = (size_t)2 << 30;
    l.max_response = (size_t)4 << 30;
    p = isf_parser_new(&l);
    before = isf_parser_memory(p);
    k = isf_parser_feed(p, head, strlen(head), &ready, &e);
    CHECK(k == (long)strlen(head) && !ready, "feed %ld", k);
    CHECK(isf_parser_busy(p), "not busy inside a literal");
    CHECK(isf_parser_memory(p) < before + 8192,
          "holds %zu bytes after 10 literal bytes", isf_parser_memory(p));
    k = isf_parser_feed(p, more, sizeof more, &ready, &e);
    CHECK(k == (long)sizeof more && !ready, "feed more %ld", k);
    CHECK(isf_parser_memory(p) < before + 3 * sizeof more,
          "holds %zu bytes after 1 MiB", isf_parser_memory(p));
    isf_parser_free(p);
}

static void test_defaults(void)
{
    struct isf_limits l;

    isf_limits_default(&l);
    CHECK(l.max_line == 1048576 && l.max_literal == 1073741824 &&
              l.max_response == 2147483648u && l.max_depth == 64 &&
              l.max_nodes == 16777216,
          "default limits");
}

int main(void)
{
    test_defaults();
    test_fixtures();
    test_errors();
    test_limits_met();
    test_sticky_error();
    test_contract();
    test_big_literal();
    test_no_upfront_allocation();
    if (failures) {
        fprintf(stderr, "test_parser: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_parser: all passed\n");
    return 0;
}
