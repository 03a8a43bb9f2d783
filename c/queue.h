/* queue.h: the responses a connection holds for later: ones read while a
 * command waited for a continuation, or that belong to another command in
 * flight than the one being waited for. Each entry is a self-contained
 * copy of a parsed response with its owner; the queue is bounded in
 * entries and bytes. */
#ifndef ISF_QUEUE_H
#define ISF_QUEUE_H

#include <stddef.h>

#include "parser.h"
#include "session.h"

struct isf_queued {
    struct isf_queued *next;
    struct isf_response r;  /* points into this entry's own block */
    struct isf_owner owner;
    size_t size;            /* bytes of the whole entry */
};

struct isf_queue {
    struct isf_queued *head, *tail;
    size_t count, bytes;
    size_t max_count, max_bytes;
};

#define ISF_QUEUE_MAX_COUNT 100000
#define ISF_QUEUE_MAX_BYTES (32u << 20)

void isf_queue_init(struct isf_queue *q);
void isf_queue_free(struct isf_queue *q);

/* Appends a copy of r owned as o. ISF_ELIMIT past the bounds, ISF_ENOMEM;
 * the queue is unchanged on failure. */
int isf_queue_push(struct isf_queue *q, const struct isf_response *r,
                   const struct isf_owner *o, struct isf_error *e);

/* Unlinks and returns the first entry that match(owner, ctx) accepts (all
 * when match is NULL), or NULL. The caller frees it with free(). */
struct isf_queued *isf_queue_take(struct isf_queue *q,
                                  int (*match)(const struct isf_owner *,
                                               const void *),
                                  const void *ctx);

#endif
