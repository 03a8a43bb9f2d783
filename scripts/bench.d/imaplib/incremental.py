"""Bench job incremental with Python's imaplib: a scheduled run that flags
the messages that arrived since the last run. UIDVALIDITY and UIDNEXT are
kept in a file in BENCH_WORK; the first run (no file, or another
UIDVALIDITY) takes every message as new."""

import imaplib
import json
import os

# A UID SEARCH of a big mailbox is one line of megabytes: imaplib's
# default limit (1 MB) would refuse it.
imaplib._MAXLINE = 1 << 30


env = os.environ
CHUNK = 1000  # UIDs per command: Dovecot refuses lines over 64 KiB
state_file = os.path.join(env["BENCH_WORK"], "imaplib-incremental.json")

try:
    with open(state_file) as f:
        state = json.load(f)
except (OSError, ValueError):
    state = None

M = imaplib.IMAP4(env["BENCH_HOST"], int(env["BENCH_PORT"]))
M.login(env["BENCH_USER"], env["BENCH_PASSWORD"])
M.select(env["BENCH_MAILBOX"])
uidvalidity = int(M.response("UIDVALIDITY")[1][0])
uidnext = int(M.response("UIDNEXT")[1][0])

if state and state["uidvalidity"] == uidvalidity:
    if state["uidnext"] == uidnext:
        new = []
    else:
        last = state["uidnext"]
        typ, data = M.uid("SEARCH", None, "UID", "%d:*" % last)
        # "n:*" also matches the highest UID when it is below n.
        new = [u for u in data[0].split() if int(u) >= last]
else:
    typ, data = M.uid("SEARCH", None, "ALL")
    new = data[0].split()

for i in range(0, len(new), CHUNK):
    M.uid("STORE", b",".join(new[i:i + CHUNK]).decode(), "+FLAGS.SILENT",
          r"(\Flagged)")

tmp = state_file + ".tmp"
with open(tmp, "w") as f:
    json.dump({"uidvalidity": uidvalidity, "uidnext": uidnext}, f)
os.replace(tmp, state_file)

M.logout()
print("RESULT " + json.dumps({"new": len(new)}))
