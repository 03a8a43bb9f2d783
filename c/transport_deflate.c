/* transport_deflate.c: COMPRESS=DEFLATE (RFC 4978) as a transport that
 * wraps another one, with zlib. */
#include "transport.h"

int isf_deflate_wrap(struct isf_transport *inner, const void *pending,
                     size_t npending, struct isf_transport **out,
                     struct isf_error *e)
{
    (void)inner;
    (void)pending;
    (void)npending;
    (void)out;
    return isf_error_set(e, ISF_EUSAGE, "COMPRESS is not built in");
}
