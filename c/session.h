/* session.h: the IMAP session state machine (RFC 3501 section 3, RFC 9051
 * section 3): the connection states, which commands each state allows,
 * the tag counter and the table of commands in flight (with how far each
 * has been sent, and whether its caller gave up on it), the owner of every
 * response, and the state changes that greetings and tagged completions
 * cause. Plain data, no I/O: the connection feeds it what it sends and
 * receives. */
#ifndef ISF_SESSION_H
#define ISF_SESSION_H

#include <stddef.h>

#include "parser.h"

enum isf_state {
    ISF_STATE_GREETING, /* connected, greeting not read yet */
    ISF_STATE_NONAUTH,
    ISF_STATE_AUTH,
    ISF_STATE_SELECTED,
    ISF_STATE_LOGOUT
};

#define ISF_MAX_INFLIGHT 256
#define ISF_TAG_MAX 16
#define ISF_CMDNAME_MAX 32

/* How far a command has gone. A tag that is only reserved has not been
 * written yet: a reply carrying it is a server guessing tags, not an
 * answer. */
enum isf_phase {
    ISF_PH_FREE,
    ISF_PH_RESERVED, /* tag allocated, nothing written */
    ISF_PH_SENDING,  /* first part written, a literal waits for "+" */
    ISF_PH_SENT      /* every byte written; waiting for the completion */
};

struct isf_inflight {
    char tag[ISF_TAG_MAX];
    char name[ISF_CMDNAME_MAX]; /* upper case; "UID FETCH" keeps both words */
    unsigned char phase;        /* enum isf_phase */
    unsigned char abandoned;    /* the caller gave up: its data is stale */
    unsigned long order;        /* send order, to find the oldest */
};

/* What the session says about one response (isf_session_on_response). */
struct isf_owner {
    int known;       /* tagged: the tag was in flight and sent */
    int stale;       /* belongs to a command its caller abandoned */
    int premature;   /* tagged OK for a command not fully sent */
    char tag[ISF_TAG_MAX];      /* owning command's tag, "" if none */
    char name[ISF_CMDNAME_MAX]; /* owning command's name, "" if none */
};

struct isf_session {
    enum isf_state state;
    unsigned long next_tag;
    char prefix[4]; /* tag letters, e.g. "A" */
    struct isf_inflight inflight[ISF_MAX_INFLIGHT];
    size_t ninflight;
    size_t nabandoned;
    unsigned long next_order;
};

const char *isf_state_name(enum isf_state st);

void isf_session_init(struct isf_session *s, const char *prefix);

/* 1 when command name (as isf_inflight.name) may be sent in state st.
 * Unknown commands (extensions) are allowed in any state but LOGOUT. */
int isf_command_allowed(const char *name, enum isf_state st);

/* Writes the next tag into tag (ISF_TAG_MAX bytes) and records the command
 * as in flight. ISF_ELIMIT when too many commands are in flight,
 * ISF_EUSAGE when the state forbids the command (message in e). */
int isf_session_begin(struct isf_session *s, const char *name, char *tag,
                      struct isf_error *e);

/* 1 when a command whose first word is word is in flight. */
int isf_session_inflight(const struct isf_session *s, const char *word);

/* Drops tag from the in-flight table (a command that was never sent
 * whole). */
void isf_session_forget(struct isf_session *s, const char *tag);

/* Records that part (whole = 0) or all of tag's command was written. */
void isf_session_sent(struct isf_session *s, const char *tag, int whole);

/* The phase of tag's command (ISF_PH_FREE when it is not in flight). */
enum isf_phase isf_session_phase(const struct isf_session *s,
                                 const char *tag);

/* The caller gave up on tag (a timeout, an error in a callback): what
 * the server still sends for it is stale. 0, or ISF_EUSAGE when tag is
 * not in flight. */
int isf_session_abandon(struct isf_session *s, const char *tag,
                        struct isf_error *e);

/* Feed every response read. Updates the state: greeting (OK -> NONAUTH,
 * PREAUTH -> AUTH, BYE -> LOGOUT), untagged BYE -> LOGOUT, tagged
 * completion of LOGIN/AUTHENTICATE/SELECT/EXAMINE/CLOSE/UNSELECT/LOGOUT,
 * and fills *o with the response's owner: a tagged response is owned by
 * its command (removed from the table; known = 0 when the tag was never
 * sent, which changes nothing); an ESEARCH with a TAG correlator by that
 * command; other untagged data by the oldest command in flight (servers
 * answer in order); continuations by no one. */
void isf_session_on_response(struct isf_session *s,
                             const struct isf_response *r,
                             struct isf_owner *o);

#endif
