"""Bench job rules20 with Python's imaplib: for each rule of BENCH_RULES20
(keyword, kind, argument(s), TAB-separated) search BENCH_MAILBOX and add
the keyword to the matches."""

import imaplib
import json
import os

# A UID SEARCH of a big mailbox is one line of megabytes: imaplib's
# default limit (1 MB) would refuse it.
imaplib._MAXLINE = 1 << 30


env = os.environ
CHUNK = 1000  # UIDs per command: Dovecot refuses lines over 64 KiB


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def criteria(kind, args):
    if kind == "from":
        return ["FROM", quote(args[0])]
    if kind == "subject":
        return ["SUBJECT", quote(args[0])]
    if kind == "larger":
        return ["LARGER", str(int(args[0]))]
    if kind == "header":
        return ["HEADER", quote(args[0]), quote(args[1])]
    raise ValueError("unknown rule kind %r" % kind)


rules = []
with open(env["BENCH_RULES20"], encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\r\n")
        if line and not line.startswith("#"):
            keyword, kind, *args = line.split("\t")
            rules.append((keyword, kind, args))

M = imaplib.IMAP4(env["BENCH_HOST"], int(env["BENCH_PORT"]))
M.login(env["BENCH_USER"], env["BENCH_PASSWORD"])
M.select(env["BENCH_MAILBOX"])

stored = 0
for keyword, kind, args in rules:
    typ, data = M.uid("SEARCH", None, *criteria(kind, args))
    uids = data[0].split()
    for i in range(0, len(uids), CHUNK):
        M.uid("STORE", b",".join(uids[i:i + CHUNK]).decode(),
              "+FLAGS.SILENT", "(%s)" % keyword)
    stored += len(uids)

M.logout()
print("RESULT " + json.dumps({"stored": stored}))
