#!/usr/bin/env python3
"""wire.py JOB: the bench's "wire limit" contestant (scripts/bench).

A raw socket that, after the greeting, sends LOGIN, SELECT and all of the
job's commands in one flight (pipelined: SEARCHRES `$` where a command needs
an earlier result, MULTIAPPEND with LITERAL+ for append), then LOGOUT, and
only drains the answers: a lower bound for any client on the same job.
triage needs the subjects before its regex step, so it takes two flights;
idle uses two sockets. Prints `RESULT {json}` as its last line.
Environment: see the BENCH_* variables in scripts/bench.
"""

import email.header
import email.utils
import json
import os
import re
import socket
import statistics
import sys
import threading
import time

ENV = os.environ
TAGGED = re.compile(rb"^(w\d+) (OK|NO|BAD)\b")
LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r\n\Z")


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Conn:
    def __init__(self):
        self.sock = socket.create_connection(
            (ENV["BENCH_HOST"], int(ENV["BENCH_PORT"])))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.tag = 0
        self.sender = None
        self.read_response()  # the greeting

    def next_tag(self):
        self.tag += 1
        return "w%d" % self.tag

    def send(self, data):
        """Sends in a thread, so that a long flight never blocks reading."""
        if self.sender:
            self.sender.join()
        self.sender = threading.Thread(target=self.sock.sendall, args=(data,))
        self.sender.start()

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        if self.pos > 1 << 20:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def read_line(self):
        while True:
            nl = self.buf.find(b"\n", self.pos)
            if nl >= 0:
                line = bytes(self.buf[self.pos:nl + 1])
                self.pos = nl + 1
                return line
            self.fill()

    def read_bytes(self, n):
        while len(self.buf) - self.pos < n:
            self.fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def read_response(self):
        """One response: [line, literal, line, literal, ..., last line]."""
        parts = []
        while True:
            line = self.read_line()
            parts.append(line)
            m = LITERAL.search(line)
            if not m:
                return parts
            parts.append(self.read_bytes(int(m.group(1))))

    def drain(self, last_tag, on_response=None):
        """Reads until last_tag completes; returns {tag: status}."""
        done = {}
        while True:
            parts = self.read_response()
            m = TAGGED.match(parts[0])
            if m:
                done[m.group(1).decode()] = m.group(2).decode()
                if m.group(1).decode() == last_tag:
                    return done
            elif on_response:
                on_response(parts)

    def commands(self, lines):
        """Tags and joins command lines; returns (bytes, tags)."""
        tags, out = [], []
        for line in lines:
            t = self.next_tag()
            tags.append(t)
            out.append(b"%s %s\r\n" % (t.encode(), line))
        return b"".join(out), tags

    def login_lines(self, mailbox=None):
        lines = [b"LOGIN %s %s" % (quote(ENV["BENCH_USER"]).encode(),
                                   quote(ENV["BENCH_PASSWORD"]).encode())]
        if mailbox:
            lines.append(b"SELECT " + quote(mailbox).encode())
        return lines

    def close(self):
        if self.sender:
            self.sender.join()
        self.sock.close()


def check_ok(done, what):
    bad = {t: s for t, s in done.items() if s != "OK"}
    if bad:
        sys.exit("wire: %s: commands failed: %r" % (what, bad))


def header_value(raw):
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    value = text.split(":", 1)[1] if ":" in text else ""
    return re.sub(r"\n[ \t]+", " ", value).strip()


def job_scan(c):
    mb = ENV["BENCH_MAILBOX"]
    data, tags = c.commands(c.login_lines(mb) + [
        b"UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM)])", b"LOGOUT"])
    counts = {"messages": 0}
    senders = set()

    def on(parts):
        if b" FETCH " in parts[0] and len(parts) > 1:
            counts["messages"] += 1
            addr = email.utils.getaddresses([header_value(parts[1])])
            if addr and addr[0][1]:
                senders.add(addr[0][1].lower())
    c.send(data)
    check_ok(c.drain(tags[-1], on), "scan")
    return {"messages": counts["messages"], "senders": len(senders)}


SUBJECT_RE = re.compile(r"\b(invoice|receipt)\b", re.I)


def decode_subject(value):
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError):
        return value


def job_triage(c):
    mb = ENV["BENCH_MAILBOX"]
    data, tags = c.commands(c.login_lines(mb) + [
        b'UID SEARCH RETURN (SAVE COUNT) HEADER List-Id "lists.example.org"',
        b"UID MOVE $ Lists",
        b"UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"])
    moved = [0]
    hits = []
    uid_re = re.compile(rb"UID (\d+)")

    def on(parts):
        first = parts[0]
        if first.startswith(b"* ESEARCH"):
            m = re.search(rb"COUNT (\d+)", first)
            moved[0] = int(m.group(1)) if m else 0
        elif b" FETCH " in first and len(parts) > 1:
            m = uid_re.search(first)
            if m and SUBJECT_RE.search(decode_subject(header_value(parts[1]))):
                hits.append(int(m.group(1)))
    c.send(data)
    check_ok(c.drain(tags[-1], on), "triage flight 1")
    lines = []
    if hits:
        lines.append(b"UID STORE %s +FLAGS.SILENT (\\Flagged)"
                     % ",".join(map(str, hits)).encode())
    data, tags = c.commands(lines + [b"LOGOUT"])
    c.send(data)
    check_ok(c.drain(tags[-1]), "triage flight 2")
    return {"moved": moved[0], "flagged": len(hits)}


def criterion(kind, args):
    if kind == "from":
        return "FROM " + quote(args[0])
    if kind == "subject":
        return "SUBJECT " + quote(args[0])
    if kind == "larger":
        return "LARGER %d" % int(args[0])
    if kind == "header":
        return "HEADER %s %s" % (quote(args[0]), quote(args[1]))
    raise SystemExit("wire: unknown rule kind " + kind)


def job_rules20(c):
    lines = c.login_lines(ENV["BENCH_MAILBOX"])
    with open(ENV["BENCH_RULES20"]) as f:
        for row in f:
            row = row.rstrip("\n")
            if not row or row.startswith("#"):
                continue
            kw, kind, *args = row.split("\t")
            lines.append(("UID SEARCH RETURN (SAVE COUNT) %s"
                          % criterion(kind, args)).encode())
            lines.append(b"UID STORE $ +FLAGS.SILENT (%s)" % kw.encode())
    data, tags = c.commands(lines + [b"LOGOUT"])
    stored = [0]

    def on(parts):
        if parts[0].startswith(b"* ESEARCH"):
            m = re.search(rb"COUNT (\d+)", parts[0])
            stored[0] += int(m.group(1)) if m else 0
    c.send(data)
    check_ok(c.drain(tags[-1], on), "rules20")
    return {"stored": stored[0]}


def job_incremental(c):
    path = os.path.join(ENV["BENCH_WORK"], "wire-incremental.json")
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = None
    lines = c.login_lines(ENV["BENCH_MAILBOX"])
    if state:
        lines += [b"UID SEARCH RETURN (SAVE COUNT) UID %d:4294967295"
                  % state["uidnext"], b"UID STORE $ +FLAGS.SILENT (\\Flagged)"]
    data, tags = c.commands(lines + [b"LOGOUT"])
    seen = {"new": 0}

    def on(parts):
        first = parts[0]
        m = re.search(rb"\[(UIDNEXT|UIDVALIDITY) (\d+)\]", first)
        if m:
            seen[m.group(1).decode().lower()] = int(m.group(2))
        elif first.startswith(b"* ESEARCH"):
            m = re.search(rb"COUNT (\d+)", first)
            seen["new"] = int(m.group(1)) if m else 0
    c.send(data)
    check_ok(c.drain(tags[-1], on), "incremental")
    if state and state["uidvalidity"] != seen["uidvalidity"]:
        seen["new"] = 0  # a new UIDVALIDITY: start over from here
    with open(path, "w") as f:
        json.dump({"uidvalidity": seen["uidvalidity"],
                   "uidnext": seen["uidnext"]}, f)
    return {"new": seen["new"]}


def job_idle(c):
    watcher = c
    data, tags = watcher.commands(watcher.login_lines("Idle") + [b"IDLE"])
    watcher.send(data)
    while True:  # up to the IDLE continuation
        if watcher.read_response()[0].startswith(b"+"):
            break
    appender = Conn()
    data, tags = appender.commands(appender.login_lines())
    appender.send(data)
    check_ok(appender.drain(tags[-1]), "idle login")
    latencies = []
    for k in range(10):
        msg = (b"From: idle@bench.example\r\nSubject: idle %d\r\n\r\nping\r\n"
               % k)
        data, tags = appender.commands([b"APPEND Idle {%d+}\r\n%s" %
                                        (len(msg), msg)])
        t0 = time.monotonic()
        appender.send(data)
        while not re.match(rb"\* \d+ EXISTS", watcher.read_response()[0]):
            pass
        latencies.append((time.monotonic() - t0) * 1000)
        check_ok(appender.drain(tags[-1]), "idle append")
    data, tags = appender.commands([b"LOGOUT"])
    appender.send(data)
    appender.drain(tags[-1])
    appender.close()
    watcher.send(b"DONE\r\n")
    data, tags = watcher.commands([b"LOGOUT"])
    watcher.send(data)
    watcher.drain(tags[-1])
    return {"rounds": len(latencies),
            "latency_ms": round(statistics.median(latencies), 3)}


def job_append(c):
    adir = ENV["BENCH_APPEND_DIR"]
    count = int(ENV["BENCH_APPEND_COUNT"])
    mb = quote(ENV["BENCH_APPEND_MAILBOX"]).encode()
    parts = []
    for k in range(1, count + 1):
        with open(os.path.join(adir, "%06d.eml" % k), "rb") as f:
            msg = f.read()
        parts.append(b" {%d+}\r\n" % len(msg))
        parts.append(msg)
    data, tags = c.commands(c.login_lines() + [
        b"APPEND " + mb + b"".join(parts), b"LOGOUT"])
    c.send(data)
    check_ok(c.drain(tags[-1]), "append")
    return {"appended": count}


JOBS = {"scan": job_scan, "triage": job_triage, "rules20": job_rules20,
        "incremental": job_incremental, "idle": job_idle,
        "append": job_append}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in JOBS:
        sys.exit("usage: wire.py {%s}" % ",".join(JOBS))
    c = Conn()
    result = JOBS[sys.argv[1]](c)
    c.close()
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
