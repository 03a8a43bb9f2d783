"""Bench job append with Python's imaplib: every file of BENCH_APPEND_DIR,
in name order, appended to BENCH_APPEND_MAILBOX without flags."""

import imaplib
import json
import os

# A UID SEARCH of a big mailbox is one line of megabytes: imaplib's
# default limit (1 MB) would refuse it.
imaplib._MAXLINE = 1 << 30


env = os.environ
adir = env["BENCH_APPEND_DIR"]
names = sorted(n for n in os.listdir(adir) if n.endswith(".eml"))

M = imaplib.IMAP4(env["BENCH_HOST"], int(env["BENCH_PORT"]))
M.login(env["BENCH_USER"], env["BENCH_PASSWORD"])

appended = 0
for name in names:
    with open(os.path.join(adir, name), "rb") as f:
        M.append(env["BENCH_APPEND_MAILBOX"], None, None, f.read())
    appended += 1

M.logout()
print("RESULT " + json.dumps({"appended": appended}))
