/* grammar.h: checks of client argument text against the RFC 9051 section
 * 9 productions a command may carry verbatim: atom, flag, sequence-set
 * (with RFC 5182 "$") and fetch-att (with RFC 3516 BINARY, RFC 7162
 * MODSEQ, RFC 8474 EMAILID/THREADID, RFC 8514 SAVEDATE and Gmail's
 * X-GM-*). Text that passes cannot add a token, a list, a string or a
 * literal the caller did not mean to send. Pure functions, no I/O. */
#ifndef ISF_GRAMMAR_H
#define ISF_GRAMMAR_H

#include <stddef.h>

/* ATOM-CHAR: any CHAR except atom-specials "(" ")" "{" SP CTL "%" "*"
 * DQUOTE "\" "]". */
int isf_gram_atom_char(unsigned char ch);

/* Each check returns 1 when s[0..n) is exactly one instance of the
 * production, else 0 and sets *why (when why is not NULL) to a static
 * sentence saying what is wrong. */
int isf_gram_atom(const char *s, size_t n, const char **why);
/* flag = "\" atom / atom; "\*" (PERMANENTFLAGS only) is refused. */
int isf_gram_flag(const char *s, size_t n, const char **why);
/* sequence-set of nz-number (32-bit), "*" and ranges, or "$" alone. */
int isf_gram_seqset(const char *s, size_t n, const char **why);
/* One fetch-att, case-insensitive; header field names inside
 * HEADER.FIELDS are atoms or quoted strings. */
int isf_gram_fetch_att(const char *s, size_t n, const char **why);

#endif
