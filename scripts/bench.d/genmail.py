#!/usr/bin/env python3
"""genmail.py: the bench's deterministic mail generator (scripts/bench).

Writes N seeded, realistic messages straight into a user's Maildir cur/,
lets Dovecot index them (doveadm force-resync), and writes the append job's
message files (CRLF). A marker file records N and the generator version, so
a later run with the same N reuses the mailbox instead of regenerating it.

usage: genmail.py --home DIR --user NAME --n N --doveadm "doveadm -c CONF"
                  [--append-dir DIR] [--seed S]
"""

import argparse
import base64
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import time

VERSION = 1
MARKER = ".bench-genmail"
EPOCH = 1767225600  # 2026-01-01 00:00 UTC: the newest Date a message gets
SPAN = 2 * 365 * 86400

FIRST = ("james mary john patricia robert jennifer michael linda william "
         "elizabeth david barbara richard susan joseph jessica thomas sarah "
         "charles karen daniel lisa matthew nancy anthony betty mark sandra "
         "paul ashley steven kimberly andrew emily kenneth donna joshua "
         "michelle kevin carol brian amanda george melissa timothy deborah"
         ).split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez "
        "martinez hernandez lopez gonzalez wilson anderson thomas taylor moore "
        "jackson martin lee perez thompson white harris sanchez clark ramirez "
        "lewis robinson walker young allen king wright scott torres nguyen "
        "hill flores green adams nelson baker hall rivera campbell mitchell"
        ).split()
# Display names that need RFC 2047 encoding.
NON_ASCII_NAMES = ["José Müller", "Zoë Ångström", "François Lefèvre",
                   "Søren Kierkegård", "Małgorzata Wiśniewska", "Jürgen Groß",
                   "Åsa Öberg", "Ελένη Παπαδοπούλου", "Дмитрий Иванов",
                   "田中 太郎", "李 娜", "Nguyễn Văn An"]
MAIL_DOMAINS = ["mail.example", "post.example", "inbox.example.net",
                "fastmail.example", "uni.example.edu", "home.example.org",
                "isp.example.net", "web.example.com"]
SERVICES = ["shop", "bank", "travel", "cloud", "social", "news", "games",
            "energy", "phone", "insurance"]
TOPICS = ["the budget", "project Apollo", "the release plan", "your account",
          "next steps", "the draft", "the new office", "holiday photos",
          "the conference", "the contract", "lunch on Friday",
          "the migration", "the onboarding doc", "our call", "the roadmap",
          "the design review", "a quick question", "the benchmark numbers"]
NON_ASCII_SUBJECTS = ["Grüße aus München", "Café ce soir ?",
                      "Überprüfung der Änderungen", "Día de campo en Sevilla",
                      "会議室の予約について", "Отчёт за квартал",
                      "Ζητήματα προϋπολογισμού", "Smörgåsbord på fredag"]
LISTS = [("dev", 0.40), ("users", 0.30), ("announce", 0.15), ("misc", 0.15)]
WORDS = ("the of and to in is that for it as was with be by on not he this "
         "are or his from at which but have an they you were her she there "
         "been one all we their has would when if so no will more can said "
         "about time what some could them other into than then only these "
         "two may first any like now my such make over our even most after "
         "also made many before must through back years where much your way "
         "well down should because each just those people how too little "
         "state good very world still own see men work long here get both "
         "between life being under never day same another know while last "
         "might great old year off come since against go came right used").split()


def encode_word(text):
    """An RFC 2047 B-encoded word for text (UTF-8)."""
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


class Pool:
    """The ~3,000 senders by category, and skewed (Zipf-like) picking."""

    def __init__(self, rng):
        self.cats = []  # (cumulative probability, [(name, address)])
        people = []
        for i in range(2349):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = "%s.%s%s" % (first, last, i if i >= 150 else "")
            dom = MAIL_DOMAINS[i % len(MAIL_DOMAINS)]
            if rng.random() < 0.05:
                local = local.capitalize()
            r = rng.random()
            if r < 0.10:
                name = encode_word(rng.choice(NON_ASCII_NAMES))
            elif r < 0.85:
                name = "%s %s" % (first.capitalize(), last.capitalize())
            else:
                name = None
            people.append((name, "%s@%s" % (local, dom)))
        self.people = people
        corp = []
        for i in range(400):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            corp.append(("%s %s" % (first.capitalize(), last.capitalize()),
                         "%s.%s%d@bigcorp.example" % (first, last, i)))
        self.corp = corp
        news = [("%s%d Newsletter" % (SERVICES[i % 10].capitalize(), i),
                 "newsletter@%s%d.example" % (SERVICES[i % 10], i))
                for i in range(100)]
        noreply = [("%s%d" % (SERVICES[i % 10].capitalize(), i),
                    "noreply@%s%d.example" % (SERVICES[i % 10], i))
                   for i in range(100)]
        billing = [("Accounts at Vendor %d" % i,
                    "billing@vendor%d.example" % i) for i in range(50)]
        ceo = [("Pat Boss", "ceo@smallshop.example")]
        acc = 0.0
        for p, group in ((0.20, corp), (0.08, news), (0.05, noreply),
                         (0.02, billing), (0.001, ceo), (1.0, people)):
            acc = min(1.0, acc + p)
            weights = [1.0 / (k + 1) ** 0.9 for k in range(len(group))]
            total = sum(weights)
            cum, c = [], 0.0
            for w in weights:
                c += w / total
                cum.append(c)
            self.cats.append((acc, group, cum))

    def pick(self, rng):
        r = rng.random()
        for acc, group, cum in self.cats:
            if r < acc:
                return group[min(bisect(cum, rng.random()), len(group) - 1)]
        return self.people[0]


def bisect(cum, x):
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def fmt_addr(entry):
    name, addr = entry
    if name is None:
        return addr
    if name.startswith("=?"):
        return "%s <%s>" % (name, addr)
    return '"%s" <%s>' % (name, addr)


def subject_for(rng, listname):
    r = rng.random()
    if listname:
        return "[%s] %s" % (listname, rng.choice(
            ["patch v%d: fix %s" % (rng.randint(1, 5), rng.choice(TOPICS)),
             "Re: question about " + rng.choice(TOPICS),
             "RFC: " + rng.choice(TOPICS)]))
    if r < 0.011:
        return "Invoice %d from Vendor %d" % (rng.randint(10000, 99999),
                                              rng.randint(0, 49))
    if r < 0.021:
        return "Your receipt for order %d" % rng.randint(100000, 999999)
    if r < 0.071:
        return rng.choice(["Meeting notes: ", "Re: meeting about ",
                           "Fwd: Meeting on "]) + rng.choice(TOPICS)
    if r < 0.101:
        return "Weekly report - week %d" % rng.randint(1, 52)
    if r < 0.102:
        return "[URGENT] " + rng.choice(TOPICS)
    if r < 0.182:
        return encode_word(rng.choice(NON_ASCII_SUBJECTS))
    return rng.choice(["Re: ", "", "", "Fwd: ", "Question about ",
                       "Thoughts on "]) + rng.choice(TOPICS)


def lognormal_size(rng):
    return int(min(200000, max(1000, 5000 * math.exp(rng.gauss(0, 1.1)))))


class Gen:
    def __init__(self, seed):
        self.seed = seed
        rng = random.Random(seed)
        self.pool = Pool(rng)
        words = [rng.choice(WORDS) for _ in range(120000)]
        lines, line = [], []
        for w in words:
            line.append(w)
            if sum(len(x) + 1 for x in line) > 66:
                lines.append(" ".join(line).capitalize() + ".")
                line = []
        self.text = "\n".join(lines) + "\n"
        self.blob = rng.randbytes(160000)

    def body_text(self, rng, n):
        n = max(40, n)
        start = self.text.find("\n", rng.randrange(len(self.text) - n - 100)) + 1
        end = self.text.rfind("\n", start, start + n) + 1
        if end <= start:
            end = self.text.find("\n", start) + 1
        return self.text[start:end]

    def attachment(self, rng, n):
        raw = max(300, n * 3 // 4)
        off = rng.randrange(len(self.blob) - min(raw, len(self.blob) - 1))
        data = self.blob[off:off + raw]
        while len(data) < raw:
            data += self.blob[:raw - len(data)]
        return base64.encodebytes(data).decode("ascii")

    def message(self, i, user):
        """(date, bytes with LF line ends) of message number i."""
        rng = random.Random(self.seed * 1000003 + i)
        date = EPOCH - int(rng.random() * SPAN)
        size = lognormal_size(rng)
        sender = self.pool.pick(rng)
        h = ["Return-Path: <%s>" % sender[1],
             "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                      time.gmtime(date)),
             "From: " + fmt_addr(sender),
             "To: %s <%s@bench.example>" % (user, user)]
        if rng.random() < 0.15:
            cc = [fmt_addr(self.pool.pick(rng)) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.2:
                cc.append(fmt_addr(rng.choice(self.pool.corp)))
            h.append("Cc: " + ",\n ".join(cc))
        listname = None
        if rng.random() < 0.20:
            r, acc = rng.random(), 0.0
            for name, p in LISTS:
                acc += p
                if r < acc:
                    listname = name
                    break
            listname = listname or "misc"
        h.append("Subject: " + subject_for(rng, listname))
        h.append("Message-ID: <%d.%d.bench@bench.example>" % (i, self.seed))
        if listname:
            lid = "%s.lists.example.org" % listname
            h += ["List-Id: %s list <%s>" % (listname.capitalize(), lid),
                  "List-Unsubscribe: <mailto:%s-leave@lists.example.org>, "
                  "<https://lists.example.org/unsub/%s>" % (listname, listname),
                  "List-Post: <mailto:%s@lists.example.org>" % listname,
                  "Precedence: list"]
        r = rng.random()
        if r < 0.15:
            h.append("X-Mailer: Mozilla Thunderbird 115.%d" % rng.randint(0, 9))
        elif r < 0.25:
            h.append("X-Mailer: Apple Mail (2.%d)" % rng.randint(3000, 3800))
        elif r < 0.40:
            h.append("X-Mailer: Microsoft Outlook 16.0")
        r = rng.random()
        if r < 0.01:
            h.append("X-Priority: 1 (Highest)")
        elif r < 0.11:
            h.append("X-Priority: 3 (Normal)")
        r = rng.random()
        if r < 0.005:
            h.append("Organization: Example Research Lab")
        elif r < 0.055:
            h.append("Organization: ACME Corp")
        h.append("MIME-Version: 1.0")
        head_len = sum(len(x) + 1 for x in h) + 200
        room = max(100, size - head_len)
        kind = rng.random()
        if kind < 0.5:
            h += ["Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: 8bit"]
            body = self.body_text(rng, room)
        elif kind < 0.8:
            b = "alt-%d" % i
            text = self.body_text(rng, room // 2)
            html = "<html><body><p>" + text.replace("\n", "</p>\n<p>") + \
                "</p></body></html>\n"
            h.append('Content-Type: multipart/alternative; boundary="%s"' % b)
            body = ("--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                    "--%s\nContent-Type: text/html; charset=utf-8\n\n%s\n"
                    "--%s--\n" % (b, text, b, html, b))
        else:
            b = "mix-%d" % i
            text = self.body_text(rng, min(2000, room // 4))
            att = self.attachment(rng, room - len(text))
            name = rng.choice(["report.pdf", "photo.jpg", "data.zip",
                               "scan.png", "slides.pdf"])
            h.append('Content-Type: multipart/mixed; boundary="%s"' % b)
            body = ("--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                    "--%s\nContent-Type: application/octet-stream; name=\"%s\"\n"
                    "Content-Disposition: attachment; filename=\"%s\"\n"
                    "Content-Transfer-Encoding: base64\n\n%s\n--%s--\n"
                    % (b, text, b, name, name, att, b))
        return date, ("\n".join(h) + "\n\n" + body).encode("utf-8")


def read_marker(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def progress(what, i, n, t0):
    if i % 10000 == 0 or i == n:
        print("genmail: %s %d/%d (%.1fs)" % (what, i, n, time.time() - t0),
              file=sys.stderr, flush=True)


def generate_maildir(gen, home, user, n):
    md = os.path.join(home, "Maildir")
    if os.path.isdir(md):
        shutil.rmtree(md)
    st = os.stat(home)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    cur = os.path.join(md, "cur")
    t0 = time.time()
    for i in range(1, n + 1):
        date, data = gen.message(i, user)
        vsize = len(data) + data.count(b"\n")
        name = "%d.M%dP%d.bench,S=%d,W=%d:2," % (date, i, gen.seed,
                                                 len(data), vsize)
        path = os.path.join(cur, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (date, date))
        progress("wrote", i, n, t0)
    if os.getuid() == 0:
        for root, dirs, files in os.walk(md):
            os.chown(root, st.st_uid, st.st_gid)
            for f in files:
                os.chown(os.path.join(root, f), st.st_uid, st.st_gid)


def generate_append(gen, adir, user, count):
    if os.path.isdir(adir):
        shutil.rmtree(adir)
    os.makedirs(adir)
    t0 = time.time()
    for k in range(1, count + 1):
        _, data = gen.message(10_000_000 + k, user)
        with open(os.path.join(adir, "%06d.eml" % k), "wb") as f:
            f.write(data.replace(b"\n", b"\r\n"))
        progress("append files", k, count, t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--doveadm", required=True,
                    help='doveadm command, e.g. "doveadm -c CONF"')
    ap.add_argument("--append-dir")
    ap.add_argument("--seed", type=int, default=9)
    a = ap.parse_args()
    gen = None
    want = "n=%d version=%d seed=%d" % (a.n, VERSION, a.seed)
    marker = os.path.join(a.home, MARKER)
    if read_marker(marker) != want:
        gen = Gen(a.seed)
        if os.path.exists(marker):
            os.unlink(marker)
        generate_maildir(gen, a.home, a.user, a.n)
        t0 = time.time()
        doveadm = shlex.split(a.doveadm)
        subprocess.run(doveadm + ["force-resync", "-u", a.user, "INBOX"],
                       check=True)
        out = subprocess.run(doveadm + ["mailbox", "status", "-u", a.user,
                                        "messages", "INBOX"], check=True,
                             capture_output=True, text=True).stdout
        if not out.strip().endswith("messages=%d" % a.n):
            sys.exit("genmail: Dovecot indexed %r, not %d messages"
                     % (out.strip(), a.n))
        print("genmail: indexed in %.1fs" % (time.time() - t0),
              file=sys.stderr)
        with open(marker, "w") as f:
            f.write(want + "\n")
    else:
        print("genmail: %s: reusing %d messages" % (a.user, a.n),
              file=sys.stderr)
    if a.append_dir:
        count = min(10000, max(1, a.n // 10))
        amarker = os.path.join(a.append_dir, MARKER)
        awant = "count=%d version=%d seed=%d" % (count, VERSION, a.seed)
        if read_marker(amarker) != awant:
            generate_append(gen or Gen(a.seed), a.append_dir, a.user, count)
            with open(amarker, "w") as f:
                f.write(awant + "\n")


if __name__ == "__main__":
    main()
