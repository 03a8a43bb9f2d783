/* queue.c: the bounded queue of response copies a connection holds for
 * later (see queue.h). */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

void isf_queue_init(struct isf_queue *q)
{
    memset(q, 0, sizeof *q);
    q->max_count = ISF_QUEUE_MAX_COUNT;
    q->max_bytes = ISF_QUEUE_MAX_BYTES;
}

void isf_queue_free(struct isf_queue *q)
{
    struct isf_queued *n, *next;

    for (n = q->head; n; n = next) {
        next = n->next;
        free(n);
    }
    q->head = q->tail = NULL;
    q->count = q->bytes = 0;
}

static size_t max_end(size_t a, size_t off, size_t len)
{
    return off + len > a ? off + len : a;
}

/* Bytes of r->bytes that any part of r refers to. */
static size_t bytes_used(const struct isf_response *r)
{
    size_t i, end = 0;

    end = max_end(end, r->tag_off, r->tag_len);
    end = max_end(end, r->code_off, r->code_len);
    end = max_end(end, r->text_off, r->text_len);
    for (i = 0; i < r->nnodes; i++)
        end = max_end(end, r->nodes[i].off, r->nodes[i].len);
    return end;
}

/* One block: the entry, the nodes, the bytes, then the malformed
 * reason (parser-owned text, copied like everything else). */
static struct isf_queued *copy(const struct isf_response *r, size_t *size)
{
    size_t nb = r->nnodes * sizeof r->nodes[0], bytes = bytes_used(r);
    size_t why = r->malformed ? strlen(r->malformed) + 1 : 0;
    struct isf_queued *n;
    char *p;

    *size = sizeof *n + nb + bytes + 1 + why;
    n = malloc(*size);
    if (n == NULL)
        return NULL;
    p = (char *)(n + 1);
    n->r = *r;
    if (nb)
        memcpy(p, r->nodes, nb);
    n->r.nodes = (const struct isf_node *)(void *)p;
    memcpy(p + nb, r->bytes ? r->bytes : "", bytes);
    p[nb + bytes] = '\0';
    n->r.bytes = p + nb;
    if (why) {
        memcpy(p + nb + bytes + 1, r->malformed, why);
        n->r.malformed = p + nb + bytes + 1;
    }
    return n;
}

int isf_queue_push(struct isf_queue *q, const struct isf_response *r,
                   const struct isf_owner *o, struct isf_error *e)
{
    struct isf_queued *n;
    size_t size;

    if (q->count >= q->max_count)
        return isf_error_set(e, ISF_ELIMIT, "more than %zu responses held "
                             "for commands in flight", q->max_count);
    n = copy(r, &size);
    if (n == NULL)
        return isf_error_set(e, ISF_ENOMEM, "out of memory");
    if (q->bytes + size > q->max_bytes) {
        free(n);
        return isf_error_set(e, ISF_ELIMIT, "more than %zu bytes of "
                             "responses held for commands in flight",
                             q->max_bytes);
    }
    n->owner = *o;
    n->size = size;
    n->next = NULL;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->count++;
    q->bytes += size;
    return 0;
}

struct isf_queued *isf_queue_take(struct isf_queue *q,
                                  int (*match)(const struct isf_owner *,
                                               const void *),
                                  const void *ctx)
{
    struct isf_queued *n, *prev = NULL;

    for (n = q->head; n; prev = n, n = n->next) {
        if (match && !match(&n->owner, ctx))
            continue;
        if (prev)
            prev->next = n->next;
        else
            q->head = n->next;
        if (q->tail == n)
            q->tail = prev;
        q->count--;
        q->bytes -= n->size;
        return n;
    }
    return NULL;
}
