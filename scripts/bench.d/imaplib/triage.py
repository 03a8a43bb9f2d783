"""Bench job triage with Python's imaplib: mailing-list mail (List-Id
contains lists.example.org) moves to "Lists"; of the rest, messages whose
decoded Subject matches \\b(invoice|receipt)\\b (any case) get \\Flagged."""

import email.header
import email.parser
import imaplib
import json
import os
import re

# A UID SEARCH of a big mailbox is one line of megabytes: imaplib's
# default limit (1 MB) would refuse it.
imaplib._MAXLINE = 1 << 30


env = os.environ
CHUNK = 1000  # UIDs per command: Dovecot refuses lines over 64 KiB


def chunks(uids):
    for i in range(0, len(uids), CHUNK):
        yield b",".join(uids[i:i + CHUNK]).decode()


M = imaplib.IMAP4(env["BENCH_HOST"], int(env["BENCH_PORT"]))
M.login(env["BENCH_USER"], env["BENCH_PASSWORD"])
M.select(env["BENCH_MAILBOX"])

typ, data = M.uid("SEARCH", None, "HEADER", "List-Id", "lists.example.org")
lists = data[0].split()
for s in chunks(lists):
    M.uid("MOVE", s, "Lists")

# The server narrows by substring; the regex decides (word boundaries).
typ, data = M.uid("SEARCH", None, "OR", "SUBJECT", "invoice",
                  "SUBJECT", "receipt")
candidates = data[0].split()
pattern = re.compile(r"\b(invoice|receipt)\b", re.IGNORECASE)
parser = email.parser.BytesHeaderParser()
flag = []
for s in chunks(candidates):
    typ, data = M.uid("FETCH", s, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = re.search(rb"UID (\d+)", item[0]).group(1)
        raw = parser.parsebytes(item[1]).get("Subject", "")
        subject = str(email.header.make_header(
            email.header.decode_header(raw)))
        if pattern.search(subject):
            flag.append(uid)
for s in chunks(flag):
    M.uid("STORE", s, "+FLAGS.SILENT", r"(\Flagged)")

M.logout()
print("RESULT " + json.dumps({"moved": len(lists), "flagged": len(flag)}))
