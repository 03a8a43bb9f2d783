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
        if (!s->inflight[i].used)
            return &s->inflight[i];
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
    slot->used = 1;
    s->ninflight++;
    return 0;
}

int isf_session_inflight(const struct isf_session *s, const char *word)
{
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++)
        if (s->inflight[i].used && is_cmd(s->inflight[i].name, word))
            return 1;
    return 0;
}

void isf_session_forget(struct isf_session *s, const char *tag)
{
    size_t i;

    for (i = 0; i < ISF_MAX_INFLIGHT; i++) {
        if (s->inflight[i].used && strcmp(s->inflight[i].tag, tag) == 0) {
            s->inflight[i].used = 0;
            s->ninflight--;
        }
    }
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

int isf_session_on_response(struct isf_session *s,
                            const struct isf_response *r, char *name,
                            size_t name_size)
{
    size_t i;

    if (r->kind == ISF_RESP_UNTAGGED)
        on_untagged(s, r);
    if (r->kind != ISF_RESP_TAGGED)
        return -1;
    for (i = 0; i < ISF_MAX_INFLIGHT; i++) {
        struct isf_inflight *f = &s->inflight[i];
        if (!f->used || strlen(f->tag) != r->tag_len ||
            memcmp(f->tag, r->bytes + r->tag_off, r->tag_len) != 0)
            continue;
        if (name)
            snprintf(name, name_size, "%s", f->name);
        on_completion(s, f->name, r->status);
        f->used = 0;
        s->ninflight--;
        return 1;
    }
    return 0;
}
