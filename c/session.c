/* session.c: the IMAP session state machine (RFC 3501 section 3, RFC 9051
 * section 3): allowed states per command, tags, commands in flight, and
 * the state changes caused by greetings and tagged completions. */
#include "session.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { S_NONAUTH = 1, S_AUTH = 2, S_SELECTED = 4, S_LOGOUT = 8 };
#define S_ANY (S_NONAUTH | S_AUTH | S_SELECTED | S_LOGOUT)
#define S_AUTHED (S_AUTH | S_SELECTED)

/* Which states allow each command (the first word of its name, or the
 * second after "UID"). Sorted only for reading; looked up linearly. */
static const struct {
    const char *name;
    unsigned states;
} allowed[] = {
    {"APPEND", S_AUTHED},        {"AUTHENTICATE", S_NONAUTH},
    {"CAPABILITY", S_ANY},       {"CHECK", S_SELECTED},
    {"CLOSE", S_SELECTED},       {"COMPRESS", S_AUTHED | S_NONAUTH},
    {"COPY", S_SELECTED},        {"CREATE", S_AUTHED},
    {"DELETE", S_AUTHED},        {"DELETEACL", S_AUTHED},
    {"ENABLE", S_AUTH},          {"EXAMINE", S_AUTHED},
    {"EXPUNGE", S_SELECTED},     {"FETCH", S_SELECTED},
    {"GETACL", S_AUTHED},        {"GETANNOTATION", S_AUTHED},
    {"GETMETADATA", S_AUTHED},   {"GETQUOTA", S_AUTHED},
    {"GETQUOTAROOT", S_AUTHED},  {"ID", S_ANY},
    {"IDLE", S_AUTHED},          {"LIST", S_AUTHED},
    {"LISTRIGHTS", S_AUTHED},    {"LOGIN", S_NONAUTH},
    {"LOGOUT", S_ANY},           {"LSUB", S_AUTHED},
    {"MOVE", S_SELECTED},        {"MYRIGHTS", S_AUTHED},
    {"NAMESPACE", S_AUTHED},     {"NOOP", S_ANY},
    {"PARTIAL", S_SELECTED},     {"PROXYAUTH", S_AUTH},
    {"RENAME", S_AUTHED},        {"SEARCH", S_SELECTED},
    {"SELECT", S_AUTHED},        {"SETACL", S_AUTHED},
    {"SETANNOTATION", S_AUTHED}, {"SETMETADATA", S_AUTHED},
    {"SETQUOTA", S_AUTHED},      {"SORT", S_SELECTED},
    {"STARTTLS", S_NONAUTH},     {"STATUS", S_AUTHED},
    {"STORE", S_SELECTED},       {"SUBSCRIBE", S_AUTHED},
    {"THREAD", S_SELECTED},      {"UNSELECT", S_SELECTED},
    {"UNSUBSCRIBE", S_AUTHED},
};

static const char *const state_names[] = {
    "GREETING", "NONAUTH", "AUTH", "SELECTED", "LOGOUT",
};

const char *isf_state_name(enum isf_state st)
{
    if ((unsigned)st >= sizeof state_names / sizeof state_names[0])
        return "?";
    return state_names[st];
}

void isf_session_init(struct isf_session *s, const char *prefix)
{
    memset(s, 0, sizeof *s);
    s->state = ISF_STATE_GREETING;
    s->next_tag = 1;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "A");
}

/* The word that decides the allowed states: "UID FETCH" -> "FETCH". */
static void command_word(const char *name, char *word, size_t size)
{
    size_t n;

    if (strncasecmp(name, "UID ", 4) == 0)
        name += 4;
    n = strcspn(name, " ");
    if (n >= size)
        n = size - 1;
    memcpy(word, name, n);
    word[n] = '\0';
}

static int is_cmd(const char *name, const char *word);

static unsigned state_bit(enum isf_state st)
{
    switch (st) {
    case ISF_STATE_NONAUTH: return S_NONAUTH;
    case ISF_STATE_AUTH: return S_AUTH;
    case ISF_STATE_SELECTED: return S_SELECTED;
    case ISF_STATE_LOGOUT: return S_LOGOUT;
    default: return 0;
    }
}

int isf_command_allowed(const char *name, enum isf_state st)
{
    char word[ISF_CMDNAME_MAX];
    size_t i;

    command_word(name, word, sizeof word);
    for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcasecmp(allowed[i].name, word) == 0)
            return (allowed[i].states & state_bit(st)) != 0;
    return st != ISF_STATE_LOGOUT && st != ISF_STATE_GREETING;
}

static struct isf_inflight *free_slot(struct isf_session *s)
{
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++)
        if (s->inflight[i].phase == ISF_PH_FREE)
            return &s->inflight[i];
    return NULL;
}

/* The slot of tag (n bytes), or NULL. */
static struct isf_inflight *find(const struct isf_session *s,
                                 const char *tag, size_t n)
{
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++) {
        const struct isf_inflight *f = &s->inflight[i];
        if (f->phase != ISF_PH_FREE && strlen(f->tag) == n &&
            memcmp(f->tag, tag, n) == 0)
            return (struct isf_inflight *)f;
    }
    return NULL;
}

int isf_session_begin(struct isf_session *s, const char *name, char *tag,
                      struct isf_error *e)
{
    struct isf_inflight *slot;

    if (!isf_command_allowed(name, s->state))
        return isf_error_set(e, ISF_EUSAGE, "%s is not allowed in state %s",
                             name, isf_state_name(s->state));
    slot = free_slot(s);
    if (slot == NULL)
        return isf_error_set(e, ISF_ELIMIT,
                             "too many commands in flight (%d)",
                             ISF_MAX_INFLIGHT);
    snprintf(tag, ISF_TAG_MAX, "%s%lu", s->prefix, s->next_tag++);
    memcpy(slot->tag, tag, ISF_TAG_MAX);
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->phase = ISF_PH_RESERVED;
    slot->abandoned = 0;
    slot->order = s->next_order++;
    s->ninflight++;
    return 0;
}

int isf_session_inflight(const struct isf_session *s, const char *word)
{
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++)
        if (s->inflight[i].phase != ISF_PH_FREE &&
            is_cmd(s->inflight[i].name, word))
            return 1;
    return 0;
}

static void release(struct isf_session *s, struct isf_inflight *f)
{
    if (f->abandoned)
        s->nabandoned--;
    memset(f, 0, sizeof *f);
    s->ninflight--;
}

void isf_session_forget(struct isf_session *s, const char *tag)
{
    struct isf_inflight *f = find(s, tag, strlen(tag));

    if (f)
        release(s, f);
}

void isf_session_sent(struct isf_session *s, const char *tag, int whole)
{
    struct isf_inflight *f = find(s, tag, strlen(tag));

    if (f)
        f->phase = whole ? ISF_PH_SENT : ISF_PH_SENDING;
}

enum isf_phase isf_session_phase(const struct isf_session *s,
                                 const char *tag)
{
    const struct isf_inflight *f = find(s, tag, strlen(tag));

    return f ? (enum isf_phase)f->phase : ISF_PH_FREE;
}

int isf_session_abandon(struct isf_session *s, const char *tag,
                        struct isf_error *e)
{
    struct isf_inflight *f = find(s, tag, strlen(tag));

    if (f == NULL)
        return isf_error_set(e, ISF_EUSAGE, "tag %s is not in flight", tag);
    if (!f->abandoned)
        s->nabandoned++;
    f->abandoned = 1;
    return 0;
}

static int is_cmd(const char *name, const char *word)
{
    char w[ISF_CMDNAME_MAX];

    command_word(name, w, sizeof w);
    return strcasecmp(w, word) == 0;
}

/* State after a tagged completion of command name with status st. */
static void on_completion(struct isf_session *s, const char *name,
                          enum isf_status st)
{
    if (is_cmd(name, "LOGOUT")) {
        s->state = ISF_STATE_LOGOUT;
    } else if (is_cmd(name, "SELECT") || is_cmd(name, "EXAMINE")) {
        /* A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1). */
        s->state = st == ISF_ST_OK ? ISF_STATE_SELECTED : ISF_STATE_AUTH;
    } else if (st != ISF_ST_OK) {
        return;
    } else if (is_cmd(name, "LOGIN") || is_cmd(name, "AUTHENTICATE") ||
               is_cmd(name, "CLOSE") || is_cmd(name, "UNSELECT")) {
        s->state = ISF_STATE_AUTH; /* logged in, or no longer selected */
    }
}

static void on_untagged(struct isf_session *s, const struct isf_response *r)
{
    if (r->status == ISF_ST_BYE) {
        s->state = ISF_STATE_LOGOUT;
    } else if (s->state == ISF_STATE_GREETING) {
        if (r->status == ISF_ST_OK)
            s->state = ISF_STATE_NONAUTH;
        else if (r->status == ISF_ST_PREAUTH)
            s->state = ISF_STATE_AUTH;
    }
}

/* The command that ran longest among those written (any part). */
static const struct isf_inflight *oldest(const struct isf_session *s)
{
    const struct isf_inflight *best = NULL;
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++) {
        const struct isf_inflight *f = &s->inflight[i];
        if ((f->phase == ISF_PH_SENDING || f->phase == ISF_PH_SENT) &&
            (best == NULL || f->order < best->order))
            best = f;
    }
    return best;
}

static int node_is(const struct isf_response *r, size_t i, int type,
                   const char *word)
{
    const struct isf_node *n;

    if (i >= r->nnodes)
        return 0;
    n = &r->nodes[i];
    return n->type == type &&
           (word == NULL || (n->len == strlen(word) &&
                             strncasecmp(r->bytes + n->off, word,
                                         n->len) == 0));
}

/* The command an ESEARCH names in its correlator, "(TAG "A1")"
 * (RFC 4731 section 3.1), or NULL. */
static const struct isf_inflight *esearch_owner(const struct isf_session *s,
                                                const struct isf_response *r)
{
    size_t first = 1, list, tag;

    if (r->nnodes < 5 || !node_is(r, first, ISF_NODE_ATOM, "ESEARCH"))
        return NULL;
    list = isf_node_next(r, first);
    if (!node_is(r, list, ISF_NODE_LIST, NULL) ||
        !node_is(r, list + 1, ISF_NODE_ATOM, "TAG"))
        return NULL;
    tag = list + 2;
    if (tag >= r->nnodes || (r->nodes[tag].type != ISF_NODE_STRING &&
                             r->nodes[tag].type != ISF_NODE_ATOM))
        return NULL;
    return find(s, r->bytes + r->nodes[tag].off, r->nodes[tag].len);
}

static void set_owner(struct isf_owner *o, const struct isf_inflight *f)
{
    snprintf(o->tag, sizeof o->tag, "%s", f->tag);
    snprintf(o->name, sizeof o->name, "%s", f->name);
    o->stale = f->abandoned;
}

/* A tagged response: the completion of a command written at least in
 * part, or a tag never sent (known stays 0 and nothing changes). */
static void on_tagged(struct isf_session *s, const struct isf_response *r,
                      struct isf_owner *o)
{
    struct isf_inflight *f = find(s, r->bytes + r->tag_off, r->tag_len);

    if (f == NULL || f->phase == ISF_PH_RESERVED)
        return;
    if (f->phase == ISF_PH_SENDING && r->status == ISF_ST_OK) {
        o->premature = 1; /* "OK" to a command missing its literal */
        return;
    }
    o->known = 1;
    set_owner(o, f);
    /* A malformed completion fails its command: no state change rests
     * on it (a SELECT it answers leaves no mailbox selected). */
    on_completion(s, f->name, r->malformed ? ISF_ST_BAD : r->status);
    release(s, f);
}

void isf_session_on_response(struct isf_session *s,
                             const struct isf_response *r,
                             struct isf_owner *o)
{
    const struct isf_inflight *f;

    memset(o, 0, sizeof *o);
    if (r->kind == ISF_RESP_TAGGED) {
        on_tagged(s, r, o);
        return;
    }
    if (r->kind != ISF_RESP_UNTAGGED)
        return;
    on_untagged(s, r);
    f = esearch_owner(s, r);
    if (f == NULL)
        f = oldest(s);
    if (f)
        set_owner(o, f);
}
