/* trace.h: safe one-line renderings of protocol traffic and server text:
 * control characters escaped, literal contents elided, so that nothing a
 * server sends can drive a terminal or forge log lines. */
#ifndef ISF_TRACE_H
#define ISF_TRACE_H

#include <stddef.h>

#include "buf.h"
#include "parser.h"

/* Append s with every byte outside 0x20-0x7e written as
 * \xHH, except that valid UTF-8 sequences are kept when utf8 != 0; of
 * those, C1 controls (U+0080..U+009F) and bidi overrides (U+202A..U+202E,
 * U+2066..U+2069) are written as \u{hex}, as imapsift.error.escape does. */
int isf_escape(struct isf_buf *out, const char *s, size_t n, int utf8);

/* Append a one-line rendering of r ("* 3 FETCH (UID 7 BODY[] {4096})"):
 * quoted strings re-quoted and escaped, literals shown as {n} with their
 * contents left out, text escaped, lists nested more than 32 deep shown
 * as "(...)" whatever the parser's max_depth. */
int isf_trace_response(struct isf_buf *out, const struct isf_response *r);

#endif
