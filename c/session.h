/* session.h: the IMAP session state machine (RFC 3501 section 3, RFC 9051
 * section 3): the connection states, which commands each state allows,
 * the tag counter and the table of commands in flight, and the state
 * changes that greetings and tagged completions cause. Plain data, no I/O:
 * the connection feeds it what it sends and receives. */
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

struct isf_inflight {
    char tag[ISF_TAG_MAX];
    char name[ISF_CMDNAME_MAX]; /* upper case; "UID FETCH" keeps both words */
    int used;
};

struct isf_session {
    enum isf_state state;
    unsigned long next_tag;
    char prefix[4]; /* tag letters, e.g. "A" */
    struct isf_inflight inflight[ISF_MAX_INFLIGHT];
    size_t ninflight;
    int pending_select; /* a SELECT/EXAMINE is in flight */
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

/* Feed every response read. Updates the state: greeting (OK -> NONAUTH,
 * PREAUTH -> AUTH, BYE -> LOGOUT), untagged BYE -> LOGOUT, tagged
 * completion of LOGIN/AUTHENTICATE/SELECT/EXAMINE/CLOSE/UNSELECT/LOGOUT.
 * For a tagged response, copies the command's name into name (may be
 * NULL) and removes it from the in-flight table; returns 1 if the tag was
 * in flight, 0 if not (a protocol error the caller reports), -1 for
 * untagged or continuation responses. */
int isf_session_on_response(struct isf_session *s,
                            const struct isf_response *r, char *name,
                            size_t name_size);

#endif
