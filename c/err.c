/* err.c: names of the core error codes and the detail record helpers. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const kinds[] = {
    "ok",      "nomem",   "limit", "protocol", "io",
    "timeout", "closed",  "tls",   "usage",    "connect",
};

const char *isf_err_kind(int code)
{
    if (code > 0 || code < ISF_ERR_MIN)
        return "internal";
    return kinds[-code];
}

int isf_error_set(struct isf_error *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void isf_error_clear(struct isf_error *e)
{
    if (e != NULL) {
        e->code = ISF_OK;
        e->msg[0] = '\0';
    }
}
