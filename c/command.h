/* command.h: the command encoder. Builds the wire bytes of one command
 * (RFC 3501 section 9 / RFC 9051 section 9, client side), choosing atom,
 * quoted string or literal for each argument, and records where the sender
 * must wait for a continuation ("+") before going on (synchronizing
 * literals). With LITERAL+ (RFC 7888) literals are non-synchronizing and
 * the command is one segment. A parallel trace copy replaces secrets and
 * literal contents so it can be logged. Callers never format command
 * strings themselves: nothing but isf_cmd_raw sends text unchecked, and
 * every other argument is either chosen a form that carries it as one
 * value (atom, quoted, literal) or checked against its grammar. */
#ifndef ISF_COMMAND_H
#define ISF_COMMAND_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define ISF_CMD_MAX_SEGMENTS 64

enum isf_cmd_flags {
    ISF_CMD_LITERAL_PLUS = 1,  /* server has LITERAL+: use {n+} */
    ISF_CMD_LITERAL_MINUS = 2, /* server has LITERAL-: {n+} up to 4096 */
    ISF_CMD_UTF8 = 4,          /* UTF8=ACCEPT enabled: 8-bit may be quoted */
    ISF_CMD_BINARY = 8         /* server has BINARY: literal8 allowed */
};

struct isf_cmd {
    struct isf_buf wire;   /* the bytes to send */
    struct isf_buf trace;  /* the same with secrets and literals elided */
    size_t seg_end[ISF_CMD_MAX_SEGMENTS]; /* wire offsets where a segment
                                             ends (after "{n}\r\n") */
    size_t nseg;           /* segments that end before the final one */
    unsigned flags;
    int need_space;        /* the next argument needs a separating space */
    int failed;            /* sticky error code of the first failure */
    int secret;            /* a secret is on the wire: wipe it when freed */
    unsigned depth;        /* open parenthesized lists */
    char why[256];         /* reason of the first failure (no secrets) */
};

/* Start "TAG NAME" (name is one or more atoms, e.g. "UID FETCH").
 * max_bytes caps the whole command. */
void isf_cmd_init(struct isf_cmd *c, const char *tag, const char *name,
                  unsigned flags, size_t max_bytes);
/* Frees both buffers; wire bytes that held a secret are wiped first
 * (OPENSSL_cleanse). Safe on a zeroed struct and after a failure. */
void isf_cmd_free(struct isf_cmd *c);

/* Arguments. Each returns 0 or a negative code; after the first failure
 * the command is marked failed and later calls do nothing. */

/* An atom (1*ATOM-CHAR: keywords such as FLAGS, +FLAGS.SILENT, RETURN);
 * anything else is refused. */
int isf_cmd_atom(struct isf_cmd *c, const char *s, size_t n);
/* A flag for STORE or APPEND: "\" atom (system or extension flag) or an
 * atom (keyword); "\*" is refused (it only appears in PERMANENTFLAGS). */
int isf_cmd_flag(struct isf_cmd *c, const char *s, size_t n);
/* A sequence-set ("1:5,7,10:*") with 32-bit non-zero numbers, or "$"
 * (RFC 5182). */
int isf_cmd_seqset(struct isf_cmd *c, const char *s, size_t n);
/* One fetch-att ("BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.100>"), checked by
 * isf_gram_fetch_att and sent as given. */
int isf_cmd_fetch_att(struct isf_cmd *c, const char *s, size_t n);
/* Text sent verbatim: the only unchecked argument, for commands the
 * library does not know. Refuses CR, LF, NUL, the empty string, text
 * that leaves a quoted string open and text ending in a literal marker
 * ("{5}"). */
int isf_cmd_raw(struct isf_cmd *c, const char *s, size_t n);
int isf_cmd_number(struct isf_cmd *c, unsigned long long v);
/* astring: atom when every byte is an ATOM-CHAR, else quoted when it has
 * no CR, LF, NUL or 8-bit byte (8-bit allowed with ISF_CMD_UTF8), else a
 * literal. The empty string is "". */
int isf_cmd_astring(struct isf_cmd *c, const char *s, size_t n);
/* string: like astring but never an atom. */
int isf_cmd_string(struct isf_cmd *c, const char *s, size_t n);
/* Always a literal (e.g. APPEND's message); literal8 with binary != 0,
 * which needs ISF_CMD_BINARY, or ISF_CMD_UTF8 for RFC 6855's
 * APPEND ... UTF8 (~{n}...). */
int isf_cmd_literal(struct isf_cmd *c, const char *s, size_t n, int binary);
/* An astring whose value must never reach a trace (passwords). */
int isf_cmd_secret(struct isf_cmd *c, const char *s, size_t n);
/* Parenthesized lists: open/close may nest. */
int isf_cmd_open(struct isf_cmd *c);
int isf_cmd_close(struct isf_cmd *c);
/* Bytes appended to the previous token with no separating space (e.g. a
 * partial "<0.100>"); no space, ( ) { " \, controls or 8-bit bytes, so
 * glue cannot start another argument. */
int isf_cmd_glue(struct isf_cmd *c, const char *s, size_t n);

/* Append CRLF. Returns 0 or the first failure's code. */
int isf_cmd_finish(struct isf_cmd *c, struct isf_error *e);

/* Quote s for the wire the way isf_cmd_astring would, into out (for
 * imapsift.quote and tests). */
int isf_quote(struct isf_buf *out, const char *s, size_t n, unsigned flags);

#endif
