/* response_check.h: the rules of the response grammar (RFC 9051 section
 * 9) that the tokens alone do not show: which numbers must fit 32 bits,
 * the UID sets of UIDPLUS (RFC 4315), the shape of BODYSTRUCTURE. The
 * parser runs it on every response it completes (see `malformed` in
 * parser.h); it needs no Lua. */
#ifndef ISF_RESPONSE_CHECK_H
#define ISF_RESPONSE_CHECK_H

#include <stddef.h>

#include "parser.h"

/* 0 when r breaks none of these rules, else -1 with the first broken rule
 * written to why (n bytes, NUL-terminated, never holding server bytes).
 * r must be a complete response of the parser. Never allocates. */
int isf_response_check(const struct isf_response *r, char *why, size_t n);

#endif
