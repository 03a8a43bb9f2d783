/* mutf7.h: modified UTF-7 for mailbox names (RFC 3501 section 5.1.3). */
#ifndef ISF_MUTF7_H
#define ISF_MUTF7_H

#include <stddef.h>

#include "buf.h"

/* UTF-8 in, modified UTF-7 appended to out. ISF_EUSAGE for invalid UTF-8. */
int isf_mutf7_encode(struct isf_buf *out, const char *s, size_t n);
/* Modified UTF-7 in, UTF-8 appended to out. ISF_EPROTO when s is not
 * valid modified UTF-7 (callers may then keep the name as sent). */
int isf_mutf7_decode(struct isf_buf *out, const char *s, size_t n);

#endif
