"""Bench job scan with Python's imaplib: count the messages of
BENCH_MAILBOX per sender (the From header's first address, lowercased)."""

import email.parser
import email.utils
import imaplib
import json
import os

from collections import Counter

# A UID SEARCH of a big mailbox is one line of megabytes: imaplib's
# default limit (1 MB) would refuse it.
imaplib._MAXLINE = 1 << 30

env = os.environ
M = imaplib.IMAP4(env["BENCH_HOST"], int(env["BENCH_PORT"]))
M.login(env["BENCH_USER"], env["BENCH_PASSWORD"])
M.select(env["BENCH_MAILBOX"], readonly=True)

typ, data = M.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (FROM)])")
parser = email.parser.BytesHeaderParser()
senders = Counter()
messages = 0
for item in data:
    if not isinstance(item, tuple):
        continue  # the b")" closing each response
    messages += 1
    header = parser.parsebytes(item[1])
    addrs = email.utils.getaddresses(header.get_all("From", []))
    if addrs:
        senders[addrs[0][1].lower()] += 1

M.logout()
print("RESULT " + json.dumps({"messages": messages, "senders": len(senders)}))
