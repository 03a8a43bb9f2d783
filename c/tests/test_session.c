/* test_session.c: the session state machine: allowed states, tags,
 * in-flight tracking, the owner of each response, and the state changes
 * of greetings and completions. */
#include <stdio.h>
#include <string.h>

#include "parser.h"
#include "session.h"
#include "tests/check.h"


/* Parses one response from text into a parser the caller frees. */
static const struct isf_response *parse(struct isf_parser **p,
                                        const char *text)
{
    struct isf_error e;
    int ready = 0;

    *p = isf_parser_new(NULL);
    if (isf_parser_feed(*p, text, strlen(text), &ready, &e) < 0 || !ready)
        return NULL;
    return isf_parser_response(*p);
}

static struct isf_owner owner; /* of the response fed last */

/* Feeds one response text to the session: -1 for untagged and
 * continuations, else 1 when the tag was known, 0 when not; the command
 * name goes to name. */
static int feed(struct isf_session *s, const char *text, char *name)
{
    struct isf_parser *p;
    const struct isf_response *r = parse(&p, text);
    int rc = -9;

    if (r) {
        isf_session_on_response(s, r, &owner);
        rc = r->kind == ISF_RESP_TAGGED ? owner.known : -1;
        snprintf(name, ISF_CMDNAME_MAX, "%s", owner.name);
    }
    isf_parser_free(p);
    return rc;
}

/* Reserves a tag for name and records it as written whole. */
static int begin_sent(struct isf_session *s, const char *name, char *tag,
                      struct isf_error *e)
{
    int rc = isf_session_begin(s, name, tag, e);

    if (rc == 0)
        isf_session_sent(s, tag, 1);
    return rc;
}

static void test_allowed(void)
{
    CHECK(isf_command_allowed("LOGIN", ISF_STATE_NONAUTH));
    CHECK(!isf_command_allowed("LOGIN", ISF_STATE_AUTH));
    CHECK(!isf_command_allowed("FETCH", ISF_STATE_AUTH));
    CHECK(isf_command_allowed("UID FETCH", ISF_STATE_SELECTED));
    CHECK(!isf_command_allowed("uid store", ISF_STATE_AUTH));
    CHECK(isf_command_allowed("SELECT", ISF_STATE_SELECTED));
    CHECK(isf_command_allowed("NOOP", ISF_STATE_LOGOUT));
    CHECK(!isf_command_allowed("XUNKNOWN", ISF_STATE_LOGOUT));
    CHECK(isf_command_allowed("XUNKNOWN", ISF_STATE_AUTH));
    CHECK(!isf_command_allowed("STARTTLS", ISF_STATE_AUTH));
    CHECK(!isf_command_allowed("CAPABILITY", ISF_STATE_GREETING));
}

static void test_flow(void)
{
    struct isf_session s;
    struct isf_error e;
    char tag[ISF_TAG_MAX], name[ISF_CMDNAME_MAX];

    isf_session_init(&s, "A");
    CHECK(s.state == ISF_STATE_GREETING);
    CHECK(feed(&s, "* OK hello\r\n", name) == -1);
    CHECK(s.state == ISF_STATE_NONAUTH);
    CHECK(isf_session_begin(&s, "SELECT", tag, &e) == ISF_EUSAGE);
    CHECK(strstr(e.msg, "not allowed in state NONAUTH") != NULL);
    CHECK(begin_sent(&s, "LOGIN", tag, &e) == 0);
    CHECK(strcmp(tag, "A1") == 0);
    CHECK(s.ninflight == 1);
    CHECK(feed(&s, "A9 OK stray\r\n", name) == 0);
    CHECK(feed(&s, "A1 OK [CAPABILITY IMAP4rev1] in\r\n", name) == 1);
    CHECK(strcmp(name, "LOGIN") == 0);
    CHECK(s.state == ISF_STATE_AUTH && s.ninflight == 0);
    CHECK(begin_sent(&s, "SELECT", tag, &e) == 0);
    CHECK(strcmp(tag, "A2") == 0);
    CHECK(feed(&s, "A2 OK [READ-WRITE] done\r\n", name) == 1);
    CHECK(s.state == ISF_STATE_SELECTED);
    CHECK(begin_sent(&s, "SELECT", tag, &e) == 0);
    CHECK(feed(&s, "A3 NO no such mailbox\r\n", name) == 1);
    CHECK(s.state == ISF_STATE_AUTH); /* failed SELECT deselects */
    CHECK(feed(&s, "* BYE shutting down\r\n", name) == -1);
    CHECK(s.state == ISF_STATE_LOGOUT);
}

static void test_preauth_and_limits(void)
{
    struct isf_session s;
    struct isf_error e;
    char tag[ISF_TAG_MAX], name[ISF_CMDNAME_MAX];
    int i, rc = 0;

    isf_session_init(&s, "B");
    CHECK(feed(&s, "* PREAUTH welcome\r\n", name) == -1);
    CHECK(s.state == ISF_STATE_AUTH);
    for (i = 0; i < ISF_MAX_INFLIGHT && rc == 0; i++)
        rc = isf_session_begin(&s, "NOOP", tag, &e);
    CHECK(rc == 0);
    CHECK(isf_session_begin(&s, "NOOP", tag, &e) == ISF_ELIMIT);
    isf_session_forget(&s, "B1");
    CHECK(s.ninflight == ISF_MAX_INFLIGHT - 1);
    CHECK(isf_session_begin(&s, "NOOP", tag, &e) == 0);
    CHECK(strcmp(isf_state_name(ISF_STATE_SELECTED), "SELECTED") == 0);
}

/* A reply carrying a tag reserved but not written, or an OK to a command
 * still waiting to send its literal, is no answer to it. */
static void test_unsent_tags(void)
{
    struct isf_session s;
    struct isf_error e;
    char tag[ISF_TAG_MAX], name[ISF_CMDNAME_MAX];

    isf_session_init(&s, "A");
    feed(&s, "* PREAUTH hi\r\n", name);
    CHECK(isf_session_begin(&s, "APPEND", tag, &e) == 0);
    CHECK(feed(&s, "A1 OK guessed\r\n", name) == 0);
    CHECK(s.ninflight == 1);
    isf_session_sent(&s, tag, 0); /* waiting for "+" */
    CHECK(isf_session_phase(&s, tag) == ISF_PH_SENDING);
    CHECK(feed(&s, "A1 OK too early\r\n", name) == 0);
    CHECK(owner.premature && s.ninflight == 1);
    CHECK(feed(&s, "A1 NO [TOOBIG] refused\r\n", name) == 1);
    CHECK(strcmp(name, "APPEND") == 0 && s.ninflight == 0);
}

/* Untagged data goes to the oldest command written; an ESEARCH names its
 * own; an abandoned command's data is stale until it completes. */
static void test_owners(void)
{
    struct isf_session s;
    struct isf_error e;
    char t1[ISF_TAG_MAX], t2[ISF_TAG_MAX], name[ISF_CMDNAME_MAX];

    isf_session_init(&s, "A");
    feed(&s, "* PREAUTH hi\r\n", name);
    s.state = ISF_STATE_SELECTED;
    CHECK(feed(&s, "* 3 EXISTS\r\n", name) == -1);
    CHECK(owner.tag[0] == '\0');
    CHECK(begin_sent(&s, "UID SEARCH", t1, &e) == 0);
    CHECK(begin_sent(&s, "UID SEARCH", t2, &e) == 0);
    feed(&s, "* SEARCH 1 2\r\n", name);
    CHECK(strcmp(owner.tag, t1) == 0 && strcmp(name, "UID SEARCH") == 0);
    feed(&s, "* ESEARCH (TAG \"A2\") UID ALL 4\r\n", name);
    CHECK(strcmp(owner.tag, t2) == 0);
    CHECK(isf_session_abandon(&s, t1, &e) == 0 && s.nabandoned == 1);
    feed(&s, "* SEARCH 7\r\n", name);
    CHECK(owner.stale && strcmp(owner.tag, t1) == 0);
    CHECK(feed(&s, "A1 OK done\r\n", name) == 1 && owner.stale);
    CHECK(s.nabandoned == 0);
    feed(&s, "* SEARCH 9\r\n", name);
    CHECK(!owner.stale && strcmp(owner.tag, t2) == 0);
    CHECK(isf_session_abandon(&s, "A7", &e) == ISF_EUSAGE);
}

int main(void)
{
    test_allowed();
    test_flow();
    test_preauth_and_limits();
    test_unsent_tags();
    test_owners();
    return check_report("test_session");
}
