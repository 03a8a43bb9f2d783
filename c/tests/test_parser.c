/* test_parser.c: unit tests of the incremental IMAP response parser
 * (parser.c) and its content checks (response_check.c): every fixture fed
 * whole, split at every offset and byte by byte; malformed responses that
 * keep the stream in sync, framing errors that do not; limits; SEARCH
 * lines cut into pieces; memory that follows the bytes. */
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
    if (r->malformed) {
        isf_buf_puts(o, " malformed=");
        put_quoted(o, r->malformed, strlen(r->malformed));
    }
    if (r->partial)
        isf_buf_puts(o, " partial");
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
       "* (A:NO) ST:NO [X-THING \"a ]b\" NIL 7]=(A:X-THING S:\"a ]b\" NIL "
       "N:7) text=\"hm\"\n"),
    FX("permanentflags with brackets",
       "* OK [PERMANENTFLAGS (\\Answered \\[test] \\*)] Limited\r\n",
       "* (A:OK) ST:OK [PERMANENTFLAGS (\\Answered \\[test] \\*)]=(A:PERMA"
       "NENTFLAGS (A:\\Answered A:\\[test] A:\\*)) text=\"Limited\"\n"),
    FX("code list with quoted parens and brackets",
       "A1 NO [X (\"a)]\" (b] [c)) \"(\"] t ] u\r\n",
       "T:A1 (A:NO) ST:NO [X (\"a)]\" (b] [c)) \"(\"]=(A:X (S:\"a)]\" (A:b] "
       "A:[c)) S:\"(\") text=\"t ] u\"\n"),
    FX("code quote inside an atom", "* OK [X a\"b c\"d] t\r\n",
       "* (A:OK) ST:OK [X a\"b c\"d]=(A:X A:a S:\"b c\" A:d) text=\"t\"\n"),
    FX("code quoted arg escaped", "* NO [X-T \"a\\\"b\" nil] hm\r\n",
       "* (A:NO) ST:NO [X-T \"a\\\"b\" nil]=(A:X-T S:\"a\\\"b\" NIL) "
       "text=\"hm\"\n"),
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

/* ---- content errors: delivered marked, the stream stays in sync --------- */

/* Each is followed by a good response, which must come through intact. */
#define NEXT "* 1 EXISTS\r\n"
#define NEXT_OUT "* (N:1 A:EXISTS)\n"

static const struct fixture malformed[] = {
    FX("nul in text", "* OK hi\0there\r\n" NEXT,
       "* (A:OK) ST:OK text=\"\" malformed=\"NUL byte outside a literal at "
       "offset 7\"\n" NEXT_OUT),
    FX("nul in atom", "* X a\0b\r\n" NEXT,
       "* (A:X A:) malformed=\"NUL byte outside a literal at offset 5\"\n"
       NEXT_OUT),
    FX("nul in quoted", "* X \"a\0\"\r\n" NEXT,
       "* (A:X S:\"\") malformed=\"NUL byte outside a literal at offset "
       "6\"\n" NEXT_OUT),
    FX("unterminated quote", "* X \"abc\r\n" NEXT,
       "* (A:X S:\"\") malformed=\"unterminated quoted string at offset "
       "8\"\n" NEXT_OUT),
    FX("bad escape", "A7 OK \"x\" fine\r\n* X \"a\\nb\" (c\r\n" NEXT,
       "T:A7 (A:OK) ST:OK text=\"\\\"x\\\" fine\"\n"
       "* (A:X S:\"\") malformed=\"bad escape '\\\\' byte 0x6e in a quoted "
       "string at offset 7\"\n" NEXT_OUT),
    FX("close without open", "* X a)\r\n" NEXT,
       "* (A:X A:a) malformed=\"')' without '(' at offset 5\"\n" NEXT_OUT),
    FX("unclosed list", "* X (a (b)\r\n" NEXT,
       "* (A:X (A:a (A:b))) malformed=\"line ends with 1 list(s) still open "
       "at offset 10\"\n" NEXT_OUT),
    FX("unclosed list after a literal", "* X ({2}\r\nab\r\n" NEXT,
       "* (A:X (L:\"ab\")) malformed=\"line ends with 1 list(s) still open "
       "at offset 12\"\n" NEXT_OUT),
    FX("junk after string", "* X \"a\"b c\r\n" NEXT,
       "* (A:X S:\"a\") malformed=\"expected a space after a token at "
       "offset 7, got byte 0x62\"\n" NEXT_OUT),
    FX("junk after literal", "* X {1}\r\nab\r\n" NEXT,
       "* (A:X L:\"a\") malformed=\"expected a space after a token at "
       "offset 10, got byte 0x62\"\n" NEXT_OUT),
    FX("unterminated bracket", "* X BODY[abc\r\n" NEXT,
       "* (A:X A:) malformed=\"unterminated '[' in an atom at offset "
       "12\"\n" NEXT_OUT),
    FX("starts with paren", "(foo)\r\n" NEXT,
       "* () malformed=\"response starts with byte 0x28, not '*', '+' or a "
       "tag\"\n" NEXT_OUT),
    FX("empty line", "\r\n" NEXT,
       "* () malformed=\"response starts with byte 0x0d, not '*', '+' or a "
       "tag\"\n" NEXT_OUT),
    FX("empty line LF", "\n" NEXT,
       "* () malformed=\"response starts with byte 0x0a, not '*', '+' or a "
       "tag\"\n" NEXT_OUT),
    FX("starts with space", " * OK\r\n" NEXT,
       "* () malformed=\"response starts with byte 0x20, not '*', '+' or a "
       "tag\"\n" NEXT_OUT),
    FX("star without space", "*OK\r\n" NEXT,
       "* () malformed=\"expected a space at offset 1, got byte 0x4f\"\n"
       NEXT_OUT),
    FX("empty untagged", "* \r\n" NEXT,
       "* () malformed=\"empty untagged response\"\n" NEXT_OUT),
    FX("star alone", "*\r\n" NEXT,
       "* () malformed=\"response has nothing after its '*'\"\n" NEXT_OUT),
    FX("tag alone", "A1\r\n" NEXT,
       "T:A1 () malformed=\"tagged response without a status at offset "
       "2\"\n" NEXT_OUT),
    FX("tag space", "A1 \r\n" NEXT,
       "T:A1 () malformed=\"tagged response without a status at offset "
       "3\"\n" NEXT_OUT),
    FX("tag not status", "A1 FETCH x\r\n" NEXT,
       "T:A1 (A:FETCH) malformed=\"tagged response does not start with OK, "
       "NO or BAD (offset 8)\"\n" NEXT_OUT),
    FX("tag list", "A1 (OK)\r\n" NEXT,
       "T:A1 () malformed=\"tagged response does not start with OK, NO or "
       "BAD (offset 3)\"\n" NEXT_OUT),
    FX("tagged BYE", "A1 BYE x\r\n" NEXT,
       "T:A1 (A:BYE) malformed=\"tagged response does not start with OK, NO "
       "or BAD (offset 6)\"\n" NEXT_OUT),
    FX("tagged PREAUTH", "A1 PREAUTH x\r\n" NEXT,
       "T:A1 (A:PREAUTH) malformed=\"tagged response does not start with "
       "OK, NO or BAD (offset 10)\"\n" NEXT_OUT),
    FX("bad tag byte", "A{1 OK\r\n" NEXT,
       "* () malformed=\"byte 0x7b in the tag at offset 1\"\n" NEXT_OUT),
    FX("nul in tag", "A\0 OK\r\n" NEXT,
       "* () malformed=\"byte 0x00 in the tag at offset 1\"\n" NEXT_OUT),
    FX("plus in tag", "A+ OK\r\n" NEXT,
       "* () malformed=\"byte 0x2b in the tag at offset 1\"\n" NEXT_OUT),
    FX("unterminated code", "* OK [ALERT\r\n" NEXT,
       "* (A:OK) ST:OK text=\"\" malformed=\"unterminated response code at "
       "offset 11\"\n" NEXT_OUT),
    FX("code bracket inside a list", "A2 NO [X-BAD (a b] text\r\n" NEXT,
       "T:A2 (A:NO) ST:NO text=\"\" malformed=\"unterminated response code "
       "at offset 23\"\n" NEXT_OUT),
    FX("code close without open", "* NO [X-BAD a)] text\r\n" NEXT,
       "* (A:NO) ST:NO text=\"\" malformed=\"')' without '(' in a response "
       "code at offset 13\"\n" NEXT_OUT),
    FX("code bad escape", "* NO [X \"\\a\"] t\r\n" NEXT,
       "* (A:NO) ST:NO text=\"\" malformed=\"bad escape '\\\\' byte 0x61 in "
       "a response code at offset 10\"\n" NEXT_OUT),
    FX("code unterminated quote", "+ [X \"a]\r\n" NEXT,
       "+ () text=\"\" malformed=\"unterminated quoted string in a response "
       "code at offset 8\"\n" NEXT_OUT),
    FX("first fault wins", "* X ) ) \"\\x\r\n" NEXT,
       "* (A:X) malformed=\"')' without '(' at offset 4\"\n" NEXT_OUT),
    FX("literal-like tail that is not one", "* X ) {5 {x} 5}\r\n" NEXT,
       "* (A:X) malformed=\"')' without '(' at offset 4\"\n" NEXT_OUT),
};

/* ---- content checks (response_check.c) ---------------------------------- */

/* A response that breaks a rule of the grammar beyond its tokens: tree is
 * its canonical form, why the reason. */
#define MAL(name, in, tree, why)                                           \
    FX(name, in "\r\n" NEXT,                                               \
       tree " malformed=\"" why "\"\n" NEXT_OUT)
/* One that keeps every rule. */
#define OKAY(name, in, tree) FX(name, in "\r\n", tree "\n")

static const struct fixture checks[] = {
    OKAY("counts at their bounds",
         "* 0 EXISTS\r\n* 4294967295 RECENT\r\n* 4294967295 EXPUNGE",
         "* (N:0 A:EXISTS)\n* (N:4294967295 A:RECENT)\n"
         "* (N:4294967295 A:EXPUNGE)"),
    MAL("EXISTS past 32 bits", "* 4294967296 EXISTS",
        "* (N:4294967296 A:EXISTS)",
        "an EXISTS or RECENT count is out of range (0 to 4294967295)"),
    MAL("EXISTS past 63 bits", "* 99999999999999999999 EXISTS",
        "* (A:99999999999999999999 A:EXISTS)",
        "an EXISTS or RECENT count is out of range (0 to 4294967295)"),
    MAL("EXPUNGE 0", "* 0 EXPUNGE", "* (N:0 A:EXPUNGE)",
        "an EXPUNGE sequence number is out of range (1 to 4294967295)"),
    MAL("FETCH 0", "* 0 FETCH (UID 1)", "* (N:0 A:FETCH (A:UID N:1))",
        "a FETCH sequence number is out of range (1 to 4294967295)"),
    OKAY("FETCH numbers at their bounds",
         "* 4294967295 FETCH (UID 4294967295 RFC822.SIZE 0 "
         "MODSEQ (9223372036854775807) BINARY.SIZE[1] 4294967295 "
         "BODY[]<4294967295> NIL)",
         "* (N:4294967295 A:FETCH (A:UID N:4294967295 A:RFC822.SIZE N:0 "
         "A:MODSEQ (N:9223372036854775807) A:BINARY.SIZE[1] N:4294967295 "
         "A:BODY[]<4294967295> NIL))"),
    MAL("UID 0", "* 1 FETCH (UID 0)", "* (N:1 A:FETCH (A:UID N:0))",
        "FETCH UID is out of range (1 to 4294967295)"),
    MAL("UID past 32 bits", "* 1 FETCH (FLAGS () UID 4294967296)",
        "* (N:1 A:FETCH (A:FLAGS () A:UID N:4294967296))",
        "FETCH UID is out of range (1 to 4294967295)"),
    MAL("UID not a number", "* 1 FETCH (UID \"7\")",
        "* (N:1 A:FETCH (A:UID S:\"7\"))", "FETCH UID is not a number"),
    MAL("RFC822.SIZE past 32 bits", "* 1 FETCH (RFC822.SIZE 4294967296)",
        "* (N:1 A:FETCH (A:RFC822.SIZE N:4294967296))",
        "FETCH RFC822.SIZE is out of range (0 to 4294967295)"),
    MAL("MODSEQ past 63 bits", "* 1 FETCH (MODSEQ (9223372036854775808))",
        "* (N:1 A:FETCH (A:MODSEQ (A:9223372036854775808)))",
        "FETCH MODSEQ is out of range (63 bits)"),
    MAL("BINARY.SIZE past 32 bits", "* 1 FETCH (binary.size[1] 4294967296)",
        "* (N:1 A:FETCH (A:binary.size[1] N:4294967296))",
        "FETCH BINARY.SIZE is out of range (0 to 4294967295)"),
    MAL("origin past 32 bits", "* 1 FETCH (BODY[]<4294967296> \"\")",
        "* (N:1 A:FETCH (A:BODY[]<4294967296> S:\"\"))",
        "FETCH section origin is out of range (0 to 4294967295)"),
    MAL("section data a list", "* 1 FETCH (BODY[] (a))",
        "* (N:1 A:FETCH (A:BODY[] (A:a)))",
        "FETCH section data is not a string or NIL"),
    MAL("FETCH name without value", "* 1 FETCH (UID 1 FLAGS)",
        "* (N:1 A:FETCH (A:UID N:1 A:FLAGS))",
        "FETCH attribute without a value"),
    MAL("FETCH without a list", "* 1 FETCH UID 1",
        "* (N:1 A:FETCH A:UID N:1)", "FETCH without a list of attributes"),
    MAL("FETCH FLAGS not a list", "* 1 FETCH (FLAGS \\Seen)",
        "* (N:1 A:FETCH (A:FLAGS A:\\Seen))",
        "FETCH FLAGS or ENVELOPE is not a list"),
    MAL("FETCH MODSEQ not a list", "* 1 FETCH (MODSEQ 5)",
        "* (N:1 A:FETCH (A:MODSEQ N:5))", "FETCH MODSEQ is not a list"),
    OKAY("FETCH attributes not known, sections included",
         "* 1 FETCH (X-ODD[a] (b) UID[1] 0 X (0))",
         "* (N:1 A:FETCH (A:X-ODD[a] (A:b) A:UID[1] N:0 A:X (N:0)))"),
    MAL("FETCH name a list", "* 1 FETCH ((UID) 1)",
        "* (N:1 A:FETCH ((A:UID) N:1))", "FETCH attribute name is not an atom"),
    OKAY("BODYSTRUCTURE message/rfc822",
         "* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 "
         "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" "
         "NIL NIL NIL \"7BIT\" 2 1) 3))",
         "* (N:1 A:FETCH (A:BODY (S:\"MESSAGE\" S:\"RFC822\" NIL NIL NIL "
         "S:\"7BIT\" N:9 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
         "(S:\"TEXT\" S:\"PLAIN\" NIL NIL NIL S:\"7BIT\" N:2 N:1) N:3)))"),
    MAL("BODYSTRUCTURE size not a number",
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL "
        "\"7BIT\" \"10\" 1))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE (S:\"TEXT\" S:\"PLAIN\" NIL NIL "
        "NIL S:\"7BIT\" S:\"10\" N:1)))",
        "BODYSTRUCTURE size is not a number"),
    MAL("BODYSTRUCTURE text without lines",
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL "
        "\"7BIT\" 10))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE (S:\"TEXT\" S:\"PLAIN\" NIL NIL "
        "NIL S:\"7BIT\" N:10)))",
        "BODYSTRUCTURE line count is missing"),
    MAL("BODYSTRUCTURE without a subtype",
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\"))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE (S:\"TEXT\")))",
        "BODYSTRUCTURE part without a type and subtype"),
    MAL("BODYSTRUCTURE params an atom",
        "* 1 FETCH (BODYSTRUCTURE (\"A\" \"B\" x NIL NIL \"7BIT\" 1))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE (S:\"A\" S:\"B\" A:x NIL NIL "
        "S:\"7BIT\" N:1)))",
        "BODYSTRUCTURE parameters are not a list or NIL"),
    MAL("BODYSTRUCTURE encoding a list",
        "* 1 FETCH (BODYSTRUCTURE (\"A\" \"B\" NIL NIL NIL () 1))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE (S:\"A\" S:\"B\" NIL NIL NIL () "
        "N:1)))",
        "BODYSTRUCTURE id, description or encoding is not a string"),
    MAL("BODYSTRUCTURE not a list", "* 1 FETCH (BODYSTRUCTURE NIL)",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE NIL))",
        "BODYSTRUCTURE part is not a list"),
    MAL("multipart without a subtype",
        "* 1 FETCH (BODYSTRUCTURE ((\"A\" \"B\" NIL NIL NIL \"7BIT\" 1)))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE ((S:\"A\" S:\"B\" NIL NIL NIL "
        "S:\"7BIT\" N:1))))",
        "multipart BODYSTRUCTURE without a subtype"),
    MAL("broken part inside a multipart",
        "* 1 FETCH (BODYSTRUCTURE ((\"A\" \"B\" NIL NIL NIL \"7BIT\" 1)"
        "(\"A\" \"B\" NIL NIL NIL \"7BIT\" -1) \"MIXED\"))",
        "* (N:1 A:FETCH (A:BODYSTRUCTURE ((S:\"A\" S:\"B\" NIL NIL NIL "
        "S:\"7BIT\" N:1) (S:\"A\" S:\"B\" NIL NIL NIL S:\"7BIT\" A:-1) "
        "S:\"MIXED\")))",
        "BODYSTRUCTURE size is not a number"),
    MAL("broken body inside a message",
        "* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 "
        "() (\"TEXT\") 3))",
        "* (N:1 A:FETCH (A:BODY (S:\"MESSAGE\" S:\"RFC822\" NIL NIL NIL "
        "S:\"7BIT\" N:9 () (S:\"TEXT\") N:3)))",
        "BODYSTRUCTURE part without a type and subtype"),
    OKAY("SEARCH and SORT at their bounds",
         "* SEARCH 1 4294967295 (MODSEQ 9223372036854775807)\r\n"
         "* SORT 4294967295 1",
         "* (A:SEARCH N:1 N:4294967295 (A:MODSEQ N:9223372036854775807))\n"
         "* (A:SORT N:4294967295 N:1)"),
    MAL("SEARCH 0", "* SEARCH 1 0 2", "* (A:SEARCH N:1 N:0 N:2)",
        "a SEARCH result is out of range (1 to 4294967295)"),
    MAL("SEARCH past 32 bits", "* search 4294967296",
        "* (A:search N:4294967296)",
        "a SEARCH result is out of range (1 to 4294967295)"),
    MAL("SEARCH atom", "* SEARCH 1 two", "* (A:SEARCH N:1 A:two)",
        "a SEARCH result is not a number"),
    MAL("SEARCH other list", "* SEARCH 1 (X 5)", "* (A:SEARCH N:1 (A:X N:5))",
        "a SEARCH result ends in a list that is not (MODSEQ n)"),
    MAL("SEARCH MODSEQ past 63 bits",
        "* SEARCH 1 (MODSEQ 9223372036854775808)",
        "* (A:SEARCH N:1 (A:MODSEQ A:9223372036854775808))",
        "SEARCH MODSEQ is out of range (63 bits)"),
    MAL("SORT 0", "* SORT 0", "* (A:SORT N:0)",
        "a SORT result is out of range (1 to 4294967295)"),
    OKAY("ESEARCH at its bounds",
         "* ESEARCH (TAG \"A1\") UID MIN 1 MAX 4294967295 COUNT 0 "
         "ALL 1:4294967295,7,9:* MODSEQ 5 X (0)",
         "* (A:ESEARCH (A:TAG S:\"A1\") A:UID A:MIN N:1 A:MAX N:4294967295 "
         "A:COUNT N:0 A:ALL A:1:4294967295,7,9:* A:MODSEQ N:5 A:X (N:0))"),
    MAL("ESEARCH MIN 0", "* ESEARCH MIN 0", "* (A:ESEARCH A:MIN N:0)",
        "ESEARCH MIN or MAX is out of range (1 to 4294967295)"),
    MAL("ESEARCH COUNT past 32 bits", "* ESEARCH COUNT 4294967296",
        "* (A:ESEARCH A:COUNT N:4294967296)",
        "ESEARCH COUNT is out of range (0 to 4294967295)"),
    MAL("ESEARCH ALL past 32 bits", "* ESEARCH ALL 1:4294967296",
        "* (A:ESEARCH A:ALL A:1:4294967296)",
        "ESEARCH ALL is not a set of numbers from 1 to 4294967295"),
    MAL("ESEARCH ALL 0", "* ESEARCH ALL 0", "* (A:ESEARCH A:ALL N:0)",
        "ESEARCH ALL is not a set of numbers from 1 to 4294967295"),
    MAL("ESEARCH ALL empty member", "* ESEARCH ALL 1,,2",
        "* (A:ESEARCH A:ALL A:1,,2)",
        "ESEARCH ALL is not a set of numbers from 1 to 4294967295"),
    MAL("ESEARCH ALL two colons", "* ESEARCH ALL 1:2:3",
        "* (A:ESEARCH A:ALL A:1:2:3)",
        "ESEARCH ALL is not a set of numbers from 1 to 4294967295"),
    MAL("ESEARCH COUNT missing", "* ESEARCH COUNT",
        "* (A:ESEARCH A:COUNT)", "ESEARCH COUNT is missing"),
    OKAY("STATUS at its bounds",
         "* STATUS x (MESSAGES 4294967295 UIDNEXT 1 UIDVALIDITY 4294967295 "
         "UNSEEN 0 RECENT 0 DELETED 0 HIGHESTMODSEQ 9223372036854775807 "
         "SIZE 99999999999)",
         "* (A:STATUS A:x (A:MESSAGES N:4294967295 A:UIDNEXT N:1 "
         "A:UIDVALIDITY N:4294967295 A:UNSEEN N:0 A:RECENT N:0 A:DELETED N:0 "
         "A:HIGHESTMODSEQ N:9223372036854775807 A:SIZE N:99999999999))"),
    MAL("STATUS count past 32 bits", "* STATUS x (messages 4294967296)",
        "* (A:STATUS A:x (A:messages N:4294967296))",
        "a STATUS count is out of range (0 to 4294967295)"),
    MAL("STATUS UIDVALIDITY 0", "* STATUS x (UIDVALIDITY 0)",
        "* (A:STATUS A:x (A:UIDVALIDITY N:0))",
        "STATUS UIDNEXT or UIDVALIDITY is out of range (1 to 4294967295)"),
    MAL("STATUS without a list", "* STATUS x", "* (A:STATUS A:x)",
        "STATUS without a list of items"),
    OKAY("codes at their bounds",
         "A1 OK [UIDNEXT 4294967295] a\r\n* OK [UIDVALIDITY 1] b\r\n"
         "* OK [HIGHESTMODSEQ 9223372036854775807] c\r\n"
         "A2 OK [APPENDUID 1 4294967295] d\r\n"
         "A3 OK [COPYUID 7 1:3,5 4294967293:4294967295,1] e",
         "T:A1 (A:OK) ST:OK [UIDNEXT 4294967295]=(A:UIDNEXT N:4294967295) "
         "text=\"a\"\n* (A:OK) ST:OK [UIDVALIDITY 1]=(A:UIDVALIDITY N:1) "
         "text=\"b\"\n* (A:OK) ST:OK [HIGHESTMODSEQ 9223372036854775807]="
         "(A:HIGHESTMODSEQ N:9223372036854775807) text=\"c\"\n"
         "T:A2 (A:OK) ST:OK [APPENDUID 1 4294967295]=(A:APPENDUID N:1 "
         "N:4294967295) text=\"d\"\nT:A3 (A:OK) ST:OK [COPYUID 7 1:3,5 "
         "4294967293:4294967295,1]=(A:COPYUID N:7 A:1:3,5 "
         "A:4294967293:4294967295,1) text=\"e\""),
    MAL("UIDNEXT 0 in a completion", "A1 OK [UIDNEXT 0] done",
        "T:A1 (A:OK) ST:OK [UIDNEXT 0]=(A:UIDNEXT N:0) text=\"done\"",
        "the number of a response code is out of range (1 to 4294967295)"),
    MAL("UIDVALIDITY past 32 bits", "* OK [UIDVALIDITY 4294967296] x",
        "* (A:OK) ST:OK [UIDVALIDITY 4294967296]=(A:UIDVALIDITY "
        "N:4294967296) text=\"x\"",
        "the number of a response code is out of range (1 to 4294967295)"),
    MAL("UNSEEN missing", "* OK [UNSEEN] x",
        "* (A:OK) ST:OK [UNSEEN]=(A:UNSEEN) text=\"x\"",
        "the number of a response code is missing"),
    MAL("HIGHESTMODSEQ past 63 bits",
        "* OK [HIGHESTMODSEQ 99999999999999999999] x",
        "* (A:OK) ST:OK [HIGHESTMODSEQ 99999999999999999999]=(A:HIGHESTMODSEQ"
        " A:99999999999999999999) text=\"x\"",
        "HIGHESTMODSEQ is out of range (63 bits)"),
    MAL("PERMANENTFLAGS without a list", "* OK [PERMANENTFLAGS \\Seen] x",
        "* (A:OK) ST:OK [PERMANENTFLAGS \\Seen]=(A:PERMANENTFLAGS "
        "A:\\Seen) text=\"x\"",
        "PERMANENTFLAGS without a list of flags"),
    MAL("APPENDUID uidvalidity 0", "A1 OK [APPENDUID 0 1] x",
        "T:A1 (A:OK) ST:OK [APPENDUID 0 1]=(A:APPENDUID N:0 N:1) text=\"x\"",
        "APPENDUID uidvalidity is out of range (1 to 4294967295)"),
    MAL("APPENDUID star", "A1 OK [APPENDUID 1 2:*] x",
        "T:A1 (A:OK) ST:OK [APPENDUID 1 2:*]=(A:APPENDUID N:1 A:2:*) "
        "text=\"x\"",
        "APPENDUID UIDs is not a set of numbers from 1 to 4294967295"),
    MAL("COPYUID past 32 bits", "A1 OK [COPYUID 1 1:2 3:4294967296] x",
        "T:A1 (A:OK) ST:OK [COPYUID 1 1:2 3:4294967296]=(A:COPYUID N:1 "
        "A:1:2 A:3:4294967296) text=\"x\"",
        "COPYUID destination UIDs is not a set of numbers from 1 to "
        "4294967295"),
    MAL("COPYUID missing a set", "A1 NO [COPYUID 1 1:2] x",
        "T:A1 (A:NO) ST:NO [COPYUID 1 1:2]=(A:COPYUID N:1 A:1:2) text=\"x\"",
        "COPYUID destination UIDs is missing"),
};

static void test_malformed(void)
{
    size_t i;

    for (i = 0; i < sizeof malformed / sizeof *malformed; i++)
        all_splits(malformed[i].in, malformed[i].len, NULL, check_good,
                   &malformed[i]);
    for (i = 0; i < sizeof checks / sizeof *checks; i++)
        all_splits(checks[i].in, checks[i].len, NULL, check_good, &checks[i]);
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
    BAD("cr without lf", "* X a\rb\r\n", ISF_EPROTO,
        "CR not followed by LF at offset 6", DEF),
    BAD("cr without lf after a fault", "* X a)\rb\r\n", ISF_EPROTO,
        "CR not followed by LF at offset 7", DEF),
    /* A fault on a line that then announces a literal: the server may
     * send bytes that only look like lines, so the stream is given up. */
    BAD("fault then literal", "* X ) {5}\r\nA1 OK\r\n", ISF_EPROTO,
        "')' without '(' at offset 4, and the line ends in a literal "
        "announcement", DEF),
    BAD("fault then literal plus", "* X ) {5+}\r\n", ISF_EPROTO,
        "ends in a literal announcement", DEF),
    BAD("fault then literal8", "* X ) ~{5}\r\n", ISF_EPROTO,
        "ends in a literal announcement", DEF),
    BAD("fault then literal LF", "* X ) {5}\n", ISF_EPROTO,
        "ends in a literal announcement", DEF),
    BAD("open quote then literal", "* X \"ab {5}\r\n", ISF_EPROTO,
        "unterminated quoted string at offset 11, and the line ends in a "
        "literal announcement", DEF),
    BAD("open bracket then literal", "* X BODY[ab {5}\r\n", ISF_EPROTO,
        "unterminated '[' in an atom", DEF),
    BAD("open code then literal", "* OK [X {5}\r\n", ISF_EPROTO,
        "unterminated response code at offset 11, and the line", DEF),
    BAD("open code quote then literal", "* OK [X \"{5}\r\n", ISF_EPROTO,
        "literal announcement", DEF),
    BAD("bad tag then literal", "A{5}\r\n", ISF_EPROTO,
        "byte 0x7b in the tag at offset 1, and the line ends", DEF),
    BAD("not a status then literal", "A1 FETCH {5}\r\n", ISF_EPROTO,
        "literal announcement", DEF),
    BAD("tagged literal", "A1 {5}\r\nhello\r\n", ISF_EPROTO,
        "tagged response does not start with OK, NO or BAD but with a "
        "literal", DEF),
    BAD("nul in a literal size", "* X {1\0}\r\n", ISF_EPROTO,
        "bad byte 0x00 in a literal size", DEF),
    BAD("fault past max_line", "* X ) 12345678901234567890123456\r\n",
        ISF_ELIMIT, "line longer than max_line (32 bytes)",
        LIM(32, 100, 1000, 8, 100)),
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

    k = isf_parser_feed(p, "* X {1x}\r\n", 10, &ready, &e1);
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

/* ---- SEARCH lines cut into pieces --------------------------------------- */

/* max_line 32 cuts SEARCH and SORT lines at a space after a number once a
 * piece passes 16 bytes; each piece stays within max_line. */
static void test_search_pieces(void)
{
    static const struct fixture fx[] = {
        FX("search in pieces",
           "* SEARCH 1 22 333 4444 55555 666666 7777777 88888888 999999999 "
           "1 2 3 (MODSEQ 7)\r\n" NEXT,
           "* (A:SEARCH N:1 N:22 N:333) partial\n"
           "* (A:SEARCH N:4444 N:55555 N:666666) partial\n"
           "* (A:SEARCH N:7777777 N:88888888) partial\n"
           "* (A:SEARCH N:999999999 N:1 N:2 N:3 (A:MODSEQ N:7))\n" NEXT_OUT),
        FX("sort in pieces, lone LF", "* sort 1 22 333 4444 5\n" NEXT,
           "* (A:sort N:1 N:22 N:333 N:4444) partial\n"
           "* (A:sort N:5)\n" NEXT_OUT),
        FX("nothing after the last piece", "* SEARCH 1 22 333 \r\n" NEXT,
           "* (A:SEARCH N:1 N:22 N:333) partial\n* (A:SEARCH)\n" NEXT_OUT),
        FX("a fault after a piece ends the line",
           "* SEARCH 1 22 333 4444 x)\r\n" NEXT,
           "* (A:SEARCH N:1 N:22 N:333) partial\n"
           "* (A:SEARCH N:4444 A:x) malformed=\"')' without '(' at offset "
           "6\"\n" NEXT_OUT),
        FX("a piece out of range",
           "* SEARCH 1 22 0000 4444\r\n" NEXT,
           "* (A:SEARCH N:1 N:22 N:0) malformed=\"a SEARCH result is out of "
           "range (1 to 4294967295)\" partial\n* (A:SEARCH N:4444)\n"
           NEXT_OUT),
        FX("other lines are not cut",
           "* X 1 22 333 4444 55555 666666\r\n* ESEARCH ALL 1,22,333,44\r\n",
           "* (A:X N:1 N:22 N:333 N:4444 N:55555 N:666666)\n"
           "* (A:ESEARCH A:ALL A:1,22,333,44)\n"),
    };
    struct isf_limits l = {32, 100, 1000, 8, 100};
    size_t i;

    for (i = 0; i < sizeof fx / sizeof *fx; i++)
        all_splits(fx[i].in, fx[i].len, &l, check_good, &fx[i]);
}

/* One million UIDs on one line (a server without ESEARCH), default limits,
 * fed in chunks of random sizes: every number arrives, in pieces, and the
 * parser's memory stays small all along. */
static void test_million_uids(void)
{
    const size_t count = 1000000;
    struct isf_buf in;
    struct isf_parser *p = isf_parser_new(NULL);
    const struct isf_response *r;
    struct isf_error e;
    uint64_t sum = 0, want = 0, seed = 1;
    size_t off = 0, got = 0, pieces = 0, most = 0, wire = 0, i, j;
    int ready, last_seen = 0, modseq = 0;

    isf_buf_init(&in, (size_t)-1);
    isf_buf_puts(&in, "* SEARCH");
    for (i = 1; i <= count; i++) {
        isf_buf_printf(&in, " %zu", i * 7 + 3);
        want += i * 7 + 3;
    }
    isf_buf_puts(&in, " (MODSEQ 424242)\r\n");
    CHECK(in.len > (size_t)7 << 20, "line of %zu bytes", in.len);
    while (off < in.len) {
        size_t n = 1 + (size_t)((seed = seed * 6364136223846793005u + 1) >>
                                 44) % 65536;
        long k;

        n = n < in.len - off ? n : in.len - off;
        k = isf_parser_feed(p, in.data + off, n, &ready, &e);
        CHECK(k >= 0, "million: %s", e.msg);
        if (k < 0)
            break;
        off += (size_t)k;
        most = isf_parser_memory(p) > most ? isf_parser_memory(p) : most;
        if (!ready)
            continue;
        r = isf_parser_response(p);
        CHECK(!last_seen, "a piece after the last one");
        CHECK(r->malformed == NULL && r->nodes[1].type == ISF_NODE_ATOM,
              "piece %zu", pieces);
        for (j = 2; j < r->nodes[0].end; j = r->nodes[j].end) {
            if (r->nodes[j].type == ISF_NODE_NUMBER) {
                sum += r->nodes[j].num;
                got++;
            } else {
                modseq = !r->partial && r->nodes[j + 2].num == 424242;
            }
        }
        CHECK(isf_parser_busy(p) == r->partial, "busy with a piece ready");
        last_seen = !r->partial;
        wire += r->wire_len;
        pieces++;
        isf_parser_release(p);
    }
    CHECK(last_seen && modseq, "last piece %d, modseq %d", last_seen, modseq);
    CHECK(got == count && sum == want, "got %zu numbers", got);
    CHECK(wire == in.len, "wire %zu of %zu", wire, in.len);
    CHECK(pieces > 100, "only %zu pieces", pieces);
    CHECK(most < ((size_t)2 << 20), "parser held %zu bytes", most);
    isf_buf_free(&in);
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
    test_malformed();
    test_errors();
    test_limits_met();
    test_sticky_error();
    test_contract();
    test_search_pieces();
    test_million_uids();
    test_big_literal();
    test_no_upfront_allocation();
    if (failures) {
        fprintf(stderr, "test_parser: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_parser: all passed\n");
    return 0;
}
