/* parser.h: the incremental IMAP response parser (RFC 3501 section 9 and
 * RFC 9051 section 9, server side of the grammar). A push parser with no
 * I/O: feed it any chunk of bytes; it stops right after each complete
 * response, which the caller reads and then releases.
 *
 * A response is kept as a flat tree of nodes in pre-order. Node 0 is a
 * LIST holding the response's items after the tag:
 *   "* 12 FETCH (UID 7 BODY[] {3}\r\nabc)"
 *      -> root: NUMBER 12, ATOM FETCH, LIST(ATOM UID, NUMBER 7,
 *                                         ATOM "BODY[]", STRING "abc")
 *   "A1 OK [UIDNEXT 5] done"   -> root: ATOM OK; code, text set
 *   "+ go ahead"               -> kind CONTINUE, root empty, text set
 * An atom that contains a bracketed part keeps it whole, spaces and all:
 * "BODY[HEADER.FIELDS (SUBJECT)]<0>" is one ATOM. Atoms made only of digits
 * are NUMBERs (value in num); "NIL" in any case is NIL.
 *
 * Status responses (OK, NO, BAD, PREAUTH, BYE, tagged or untagged) and
 * continuations end in free text: the optional "[code args]" is kept both
 * raw and as nodes, the rest of the line as text. A code ends at the first
 * "]" outside its parenthesized lists and quoted strings, so
 * "[PERMANENTFLAGS (\Answered \[test] \*)]" is one code.
 *
 * Content errors and framing errors: a line whose framing is certain (it
 * ends in CRLF and announces no literal) but whose content breaks the
 * grammar (a bad escape, an unbalanced list, a bad response code, a number
 * out of range, a broken BODYSTRUCTURE) is still delivered, whole, with
 * `malformed` set; the parser stays in sync. Only framing errors (a
 * literal size or CRLF that is not one, a malformed line that ends in a
 * literal announcement) and broken limits stop the parser for good.
 *
 * A long untagged SEARCH or SORT line is delivered in pieces: once the
 * line passes min(64 KiB, max_line / 2) bytes, the numbers so far go out
 * as a response with `partial` set, and the next response carries on the
 * same line (its root again starts with the SEARCH or SORT atom). So
 * max_line bounds each piece, not the whole line. */
#ifndef ISF_PARSER_H
#define ISF_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Every limit that protects the client from a hostile server. */
struct isf_limits {
    size_t max_line;     /* bytes of one line outside literals */
    size_t max_literal;  /* bytes of one literal */
    size_t max_response; /* bytes of one whole response, literals included */
    unsigned max_depth;  /* nesting of parenthesized lists */
    size_t max_nodes;    /* nodes in one response */
};

/* Defaults: 1 MiB line, 1 GiB literal, 2 GiB response, depth 64,
 * 16 million nodes. */
void isf_limits_default(struct isf_limits *l);

enum isf_node_type {
    ISF_NODE_ATOM,   /* bytes in data/len */
    ISF_NODE_NUMBER, /* bytes in data/len, value in num */
    ISF_NODE_STRING, /* quoted or literal; bytes (unescaped) in data/len */
    ISF_NODE_NIL,
    ISF_NODE_LIST    /* children follow; `count` of them, subtree ends at
                        index `end` */
};

enum isf_node_flag {
    ISF_NF_LITERAL = 1,  /* STRING came as a literal {n} */
    ISF_NF_LITERAL8 = 2  /* STRING came as a literal8 ~{n} */
};

struct isf_node {
    uint8_t type;
    uint8_t flags;
    uint32_t count;   /* LIST: number of direct children */
    uint32_t end;     /* LIST: index one past the last descendant;
                         others: own index + 1 */
    size_t off, len;  /* bytes in isf_response.bytes */
    uint64_t num;     /* NUMBER value (fits in 63 bits, else it is an ATOM) */
};

enum isf_resp_kind {
    ISF_RESP_UNTAGGED, /* "* ..." */
    ISF_RESP_TAGGED,   /* "TAG ..." */
    ISF_RESP_CONTINUE  /* "+ ..." */
};

enum isf_status {
    ISF_ST_NONE, /* not a status response (data, e.g. "* 3 EXISTS") */
    ISF_ST_OK,
    ISF_ST_NO,
    ISF_ST_BAD,
    ISF_ST_PREAUTH,
    ISF_ST_BYE
};

/* A complete response. Everything points into parser-owned memory, valid
 * until isf_parser_release() or isf_parser_free(). */
struct isf_response {
    enum isf_resp_kind kind;
    enum isf_status status;
    const char *bytes;           /* backing store for every off/len below */
    size_t tag_off, tag_len;     /* TAGGED only */
    const struct isf_node *nodes;
    size_t nnodes;               /* nodes[0] is the root LIST */
    int has_code;                /* a "[...]" response code was present */
    size_t code_off, code_len;   /* raw text inside the brackets */
    size_t code_node;            /* index of a LIST with the code's tokens
                                    (name first), valid when has_code; it
                                    lies after the root's subtree */
    size_t text_off, text_len;   /* resp-text after the code, status and
                                    continuation responses only */
    size_t wire_len;             /* bytes of the wire this response took */
    const char *malformed;       /* NULL, or why the content breaks the
                                    grammar: parser-owned text holding no
                                    server bytes. kind, tag and status are
                                    set as far as they could be parsed (a
                                    tag that is not one makes the response
                                    UNTAGGED); the nodes are a valid tree
                                    of what came before the fault. */
    int partial;                 /* nonzero: an untagged SEARCH or SORT
                                    piece; more of the same line follows */
};

struct isf_parser;

/* NULL on allocation failure. limits is copied; NULL means defaults. */
struct isf_parser *isf_parser_new(const struct isf_limits *limits);
void isf_parser_free(struct isf_parser *p);

/* Consume bytes from data. Returns how many were consumed (0..len) or a
 * negative code (ISF_EPROTO for a framing error, ISF_ELIMIT when a limit
 * is broken, ISF_ENOMEM) with a message in e. When a response is complete
 * (or a SEARCH piece is, see `partial`) it stops right after it and sets
 * *ready = 1; the caller must then call isf_parser_response() and
 * isf_parser_release() before feeding again. A malformed response is not
 * an error here: it is delivered with `malformed` set. After an error the
 * parser is unusable (the stream is out of sync).
 * Cost is linear in the bytes fed, whatever the chunking. */
long isf_parser_feed(struct isf_parser *p, const char *data, size_t len,
                     int *ready, struct isf_error *e);

/* The complete response, or NULL if none is ready. */
const struct isf_response *isf_parser_response(const struct isf_parser *p);

/* Forget the current response and get ready for the next. */
void isf_parser_release(struct isf_parser *p);

/* Nonzero while the parser holds part of an unfinished response (a SEARCH
 * piece is one: its line goes on). */
int isf_parser_busy(const struct isf_parser *p);

/* Bytes of memory the parser holds now (its storage and node array); it
 * follows the bytes received, never a size announced by the server. */
size_t isf_parser_memory(const struct isf_parser *p);

/* Index of the sibling after node i. */
static inline size_t isf_node_next(const struct isf_response *r, size_t i)
{
    return r->nodes[i].end;
}

#endif
