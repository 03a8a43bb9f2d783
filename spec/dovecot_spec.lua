-- spec/dovecot_spec.lua: every method of the connection object against
-- the private Dovecot (scripts/testserver), over implicit TLS as alice.
-- Each test starts from emptied mailboxes and creates what it needs.

local imapsift = require "imapsift"
local server = require "support.server"

local util = require "support.util"
local catch = util.catch

-- A tracer that records every line sent by the client.
local function recorder()
  local sent = {}
  local function trace(dir, line)
    if dir == "C" then sent[#sent + 1] = line end
  end
  return sent, trace
end

local sent_matching = util.count

local function names_of(list)
  local out = {}
  for _, mb in ipairs(list) do out[mb.name] = mb end
  return out
end

local function uids_of(msgs)
  local out = {}
  for i, m in ipairs(msgs) do out[i] = m.uid end
  table.sort(out)
  return out
end

-- Flags without \Recent, which Dovecot adds to new messages.
local function plain(flags)
  local out = {}
  for _, f in ipairs(flags) do
    if f ~= "\\Recent" then out[#out + 1] = f end
  end
  return out
end

local MONTH = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
  Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- An IMAP date-time ("01-Feb-2024 12:34:56 +0100") as seconds since the
-- epoch, so that the same instant in two zones compares equal.
local function utc_seconds(s)
  local d, mon, y, h, mi, sec, sign, zh, zm = s:match(
    "^ ?(%d+)%-(%a%a%a)%-(%d%d%d%d) (%d%d):(%d%d):(%d%d) ([+-])(%d%d)(%d%d)$")
  assert(d, "not an IMAP date-time: " .. s)
  local days = os.time{ year = y, month = MONTH[mon], day = d, hour = 12 }
    // 86400 -- whole days since the epoch (noon avoids zone edges)
  local t = days * 86400 + h * 3600 + mi * 60 + sec
  local off = (zh * 3600 + zm * 60) * (sign == "-" and -1 or 1)
  return t - off
end

local function has(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

local MULTIPART = table.concat({
  "From: Carol <carol@example.org>",
  "To: Alice <alice@example.org>, bob@example.org",
  "Subject: with attachment",
  "Date: Tue, 2 Jan 2024 09:30:00 +0100",
  "Message-ID: <multi-1@example.org>",
  "MIME-Version: 1.0",
  "Content-Type: multipart/mixed; boundary=\"XyZ\"",
  "",
  "preamble",
  "--XyZ",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: 8bit",
  "",
  "Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen",
  "zweite Zeile",
  "--XyZ",
  "Content-Type: application/octet-stream; name=\"data.bin\"",
  "Content-Transfer-Encoding: base64",
  "Content-Disposition: attachment; filename=\"data.bin\"",
  "",
  "AAECAwQFBgcICQ==",
  "--XyZ--",
  "",
}, "\r\n")

describe("the connection object against Dovecot", function()
  local imap

  before_each(function()
    imap = server.connect()
    server.reset(imap)
  end)

  after_each(function()
    if imap then pcall(imap.logout, imap) end
    imap = nil
  end)

  describe("any state", function()
    it("keeps capabilities as a set keyed by upper-case names", function()
      local caps = imap:capability()
      assert.equal(imap.capabilities, caps)
      assert.is_true(caps.IMAP4REV1)
      for _, name in ipairs({ "IDLE", "MOVE", "UIDPLUS", "CONDSTORE",
          "ESEARCH", "LITERAL+", "NAMESPACE", "UNSELECT", "ID", "ENABLE" }) do
        assert.is_true(caps[name], name .. " missing")
      end
      for name, v in pairs(caps) do
        assert.equal(name:upper(), name)
        assert.is_true(v)
      end
      -- Dovecot says RIGHTS=texk; the set normalises the case.
      assert.is_true(caps["RIGHTS=TEXK"])
      assert.is_nil(caps["RIGHTS=texk"])
    end)

    it("runs NOOP and returns the untagged data it brought", function()
      imap:select("INBOX")
      local other = server.connect()
      server.append(other, "INBOX", { { subject = "for noop" } })
      other:logout()
      local data = imap:noop()
      -- EXISTS is folded: the data says what came, the mailbox holds it.
      assert.equal(1, data.exists)
      assert.equal(1, imap.mailbox.exists)
    end)

    it("logs out and then refuses further commands", function()
      assert.equal("SELECTED", (imap:select("INBOX") and imap:state()))
      assert.is_true(imap:logout())
      assert.equal("LOGOUT", imap:state())
      assert.is_nil(imap:logout()) -- a second logout does nothing
      local err = catch(imap.noop, imap)
      assert.equal("usage", err.kind)
      imap = nil
    end)

    it("sends ID and returns the server's parameters", function()
      local params = imap:id{ name = "imapsift-spec", version = "1" }
      assert.equal("table", type(params))
      assert.equal("Dovecot", params.name)
      local none = imap:id()
      assert.equal("Dovecot", none.name)
    end)
  end)

  describe("login", function()
    it("logs in after connecting and re-reads the capabilities", function()
      local c = server.connect_anonymous()
      assert.equal("NONAUTH", c:state())
      assert.is_nil(c.capabilities.MOVE) -- the greeting lists fewer
      local text = c:login(server.user, server.password)
      assert.equal("string", type(text))
      assert.equal("AUTH", c:state())
      assert.is_true(c.capabilities.MOVE)
      c:logout()
    end)

    it("fails with kind no and the server's code for a bad password",
        function()
      local err = catch(server.connect, { password = "not-the-password" })
      assert.equal("no", err.kind)
      assert.equal("AUTHENTICATIONFAILED", err.code)
      assert.matches("Authentication failed", err.text)
      assert.matches('LOGIN as "alice" failed: NO %[AUTHENTICATIONFAILED%]',
        tostring(err))
      assert.not_matches("not%-the%-password", tostring(err))
    end)

    it("authenticates with SASL PLAIN through a callback", function()
      local c = server.connect_anonymous()
      local lines, challenges = {}, {}
      c:set_trace(function(_, line) lines[#lines + 1] = line end)
      c:authenticate("PLAIN", function(challenge)
        challenges[#challenges + 1] = challenge
        return "\0" .. server.user .. "\0" .. server.password
      end)
      assert.same({ "" }, challenges)
      assert.equal("AUTH", c:state())
      assert.is_true(c.capabilities.MOVE)
      local all = table.concat(lines, "\n")
      assert.not_matches(server.password, all, 1, true)
      assert.not_matches(imapsift.core.base64_encode("\0" .. server.user ..
        "\0" .. server.password), all, 1, true)
      c:select("INBOX")
      c:logout()
    end)

    it("fails AUTHENTICATE with kind no for bad credentials or a cancel",
        function()
      local c = server.connect_anonymous()
      local err = catch(c.authenticate, c, "PLAIN", function()
        return "\0" .. server.user .. "\0wrong"
      end)
      assert.equal("no", err.kind)
      assert.equal("AUTHENTICATIONFAILED", err.code)
      assert.equal("NONAUTH", c:state())
      -- Returning nil cancels the exchange; the server answers BAD.
      err = catch(c.authenticate, c, "PLAIN", function() return nil end)
      assert.equal("bad", err.kind)
      assert.equal("NONAUTH", c:state())
      c:login(server.user, server.password)
      assert.equal("AUTH", c:state())
      c:logout()
    end)

    it("never shows the password in the trace", function()
      local lines = {}
      local c = server.connect{ trace = function(dir, line)
        lines[#lines + 1] = dir .. ": " .. line
      end }
      c:logout()
      local all = table.concat(lines, "\n")
      assert.matches("LOGIN", all)
      assert.not_matches(server.password, all, 1, true)
    end)
  end)

  describe("select and examine", function()
    it("select returns the mailbox state", function()
      local uid = server.append(imap, "INBOX", { {} })[1]
      local box = imap:select("INBOX")
      assert.equal("INBOX", box.name)
      assert.equal(1, box.exists)
      assert.equal("integer", math.type(box.uidvalidity))
      assert.equal(uid + 1, box.uidnext)
      assert.is_false(box.readonly)
      assert.is_true(has(box.flags, "\\Seen"))
      assert.is_true(has(box.flags, "\\Deleted"))
      assert.is_true(has(box.permanentflags, "\\*"))
      assert.equal(box, imap.mailbox)
      assert.equal("SELECTED", imap:state())
    end)

    it("examine opens the mailbox read-only", function()
      local box = imap:examine("INBOX")
      assert.is_true(box.readonly)
      assert.equal(0, box.exists)
      assert.equal("SELECTED", imap:state())
    end)

    it("selecting a missing mailbox fails with kind no", function()
      local err = catch(imap.select, imap, "Does-Not-Exist")
      assert.equal("no", err.kind)
      assert.matches('SELECT "Does%-Not%-Exist" failed: NO', tostring(err))
      assert.is_nil(imap.mailbox)
    end)
  end)

  describe("mailboxes", function()
    it("round-trips non-ASCII names through modified UTF-7", function()
      local sent, trace = recorder()
      imap:set_trace(trace)
      assert.is_true(imap:create("Entwürfe"))
      assert.is_true(imap:create("日本語/子"))
      assert.equal(1, sent_matching(sent, "CREATE Entw&APw%-rfe$"))
      assert.equal(1, sent_matching(sent, "CREATE &ZeVnLIqe%-/&W1A%-$"))
      local boxes = names_of(imap:list("", "*"))
      assert.is_truthy(boxes["Entwürfe"])
      assert.is_truthy(boxes["日本語"])
      assert.is_truthy(boxes["日本語/子"])
      assert.equal("/", boxes["Entwürfe"].delimiter)
      assert.is_true(has(boxes["日本語"].flags, "\\HasChildren"))
      assert.is_true(has(boxes["Entwürfe"].flags, "\\HasNoChildren"))
      assert.is_true(has(boxes.Trash.flags, "\\Trash"))
      local st = imap:status("日本語/子")
      assert.equal(0, st.messages)
    end)

    it("quotes names with spaces, quotes, backslashes and '&'", function()
      local names = { 'Say "hi"', "back\\slash", "A&B", "x & y & z" }
      local sent, trace = recorder()
      imap:set_trace(trace)
      for _, n in ipairs(names) do imap:create(n) end
      assert.equal(1, sent_matching(sent, 'CREATE "Say \\"hi\\""$'))
      assert.equal(1, sent_matching(sent, "CREATE A&%-B$"))
      local boxes = names_of(imap:list())
      for _, n in ipairs(names) do
        assert.is_truthy(boxes[n], n .. " not listed")
        assert.equal(0, imap:status(n).messages)
      end
      imap:rename("A&B", "C&D")
      assert.is_truthy(names_of(imap:list())["C&D"])
    end)

    it("lists with a reference and a pattern", function()
      imap:create("Projects/a")
      imap:create("Projects/b")
      imap:create("Other")
      local list = imap:list("Projects/", "%")
      local names = {}
      for _, mb in ipairs(list) do names[#names + 1] = mb.name end
      table.sort(names)
      assert.same({ "Projects/a", "Projects/b" }, names)
      for _, mb in ipairs(list) do
        assert.equal("/", mb.delimiter)
        assert.equal("table", type(mb.flags))
      end
    end)

    it("renames, subscribes, unsubscribes and deletes", function()
      imap:create("Alt")
      assert.is_true(imap:rename("Alt", "Neu Ä"))
      local boxes = names_of(imap:list())
      assert.is_nil(boxes.Alt)
      assert.is_truthy(boxes["Neu Ä"])

      assert.is_true(imap:subscribe("Neu Ä"))
      assert.is_truthy(names_of(imap:lsub("", "*"))["Neu Ä"])
      assert.is_true(imap:unsubscribe("Neu Ä"))
      assert.is_nil(names_of(imap:lsub("", "*"))["Neu Ä"])
      -- The automatic mailboxes stay subscribed.
      assert.is_truthy(names_of(imap:lsub("", "*")).Archive)

      assert.is_true(imap:delete("Neu Ä"))
      assert.is_nil(names_of(imap:list())["Neu Ä"])
      local err = catch(imap.delete, imap, "Neu Ä")
      assert.equal("no", err.kind)
    end)

    it("creating an existing mailbox fails with kind no", function()
      imap:create("Twice")
      local err = catch(imap.create, imap, "Twice")
      assert.equal("no", err.kind)
      assert.equal("ALREADYEXISTS", err.code)
    end)

    it("status returns lower-case keys", function()
      local uids = server.append(imap, "Archive", { {}, {} },
        { flags = { "\\Seen" } })
      server.append(imap, "Archive", { {} })
      local st = imap:status("Archive")
      assert.equal(3, st.messages)
      assert.equal(1, st.unseen)
      assert.equal(uids[2] + 2, st.uidnext)
      assert.equal("integer", math.type(st.uidvalidity))
      local some = imap:status("Archive", { "messages", "recent" })
      assert.equal(3, some.messages)
      assert.equal("integer", math.type(some.recent))
      assert.is_nil(some.unseen)
    end)

    it("returns the namespaces", function()
      local ns = imap:namespace()
      assert.same({ { prefix = "", delimiter = "/" } }, ns.personal)
      assert.same({}, ns.other)
      assert.same({}, ns.shared)
    end)
  end)

  describe("append", function()
    it("returns the APPENDUID and stores the bytes exactly", function()
      local box = imap:status("INBOX", { "UIDVALIDITY", "UIDNEXT" })
      local msg = server.message{ subject = "8-bit body",
        headers = { "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=utf-8",
          "Content-Transfer-Encoding: 8bit" },
        body = "Gr\xc3\xbc\xc3\x9fe, \xe2\x82\xac 5.\r\n" ..
          "A0007 OK not the end\r\n* BYE not a bye\r\n" }
      local r = imap:append("INBOX", msg)
      assert.same({ uidvalidity = box.uidvalidity, uid = box.uidnext,
        uids = tostring(box.uidnext) }, r)
      imap:select("INBOX")
      local m = imap:fetch({ r.uid }, { "BODY.PEEK[]", "RFC822.SIZE" })
      assert.equal(1, #m)
      assert.equal(msg, m[1].body[""])
      assert.equal(#msg, m[1].size)
    end)

    it("sets flags and the internal date", function()
      local r = imap:append("INBOX", server.message(), {
        flags = { "\\Seen", "\\Flagged", "$Important" },
        date = "01-Feb-2024 12:34:56 +0100" })
      imap:select("INBOX")
      local m = imap:fetch(r.uid, { "FLAGS", "INTERNALDATE" })[1]
      assert.equal(r.uid, m.uid)
      assert.is_true(has(m.flags, "\\Seen"))
      assert.is_true(has(m.flags, "\\Flagged"))
      assert.is_true(has(m.flags, "$Important"))
      -- Dovecot may answer in another zone; the instant must match.
      assert.equal(utc_seconds("01-Feb-2024 12:34:56 +0100"),
        utc_seconds(m.internaldate))
    end)

    it("takes the internal date as epoch seconds too", function()
      local when = 1700000000
      local r = imap:append("INBOX", server.message(), { date = when })
      imap:select("INBOX")
      local m = imap:fetch(r.uid, { "INTERNALDATE" })[1]
      assert.equal(when, imapsift.internaldate.parse(m.internaldate))
    end)

    it("fails with TRYCREATE for a missing mailbox", function()
      local err = catch(imap.append, imap, "Nope", server.message())
      assert.equal("no", err.kind)
      assert.equal("TRYCREATE", err.code)
    end)
  end)

  describe("in a selected mailbox", function()
    local uids

    before_each(function()
      uids = server.append(imap, "INBOX", {
        { from = "Boss <boss@example.org>", subject = "Quarterly numbers",
          body = "Numbers attached.\r\n" },
        { from = "Friend <friend@example.net>", subject = "Lunch?",
          headers = { "X-Priority: 1" } },
        { from = "boss@example.org", subject = "Re: Quarterly numbers",
          body = string.rep("long line of text\r\n", 400) },
        { from = "Oma <oma@example.de>",
          subject = "Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen",
          headers = { "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit" },
          body = "Viele Gr\xc3\xbc\xc3\x9fe\r\n" },
      })
      imap:select("INBOX")
    end)

    describe("search", function()
      it("returns ascending UIDs", function()
        assert.same(uids, imap:search("ALL"))
        assert.same(uids, imap:search{ "ALL" })
        assert.same({}, imap:search{ "FROM", "nobody@invalid" })
      end)

      it("handles FROM, SUBJECT, UNSEEN, HEADER, NOT, OR, LARGER, SINCE",
          function()
        imap:store({ uids[2] }, "+FLAGS", { "\\Seen" })
        assert.same({ uids[1], uids[3] },
          imap:search{ "FROM", "boss@example.org" })
        assert.same({ uids[1], uids[3] },
          imap:search{ "SUBJECT", "quarterly" })
        assert.same({ uids[1], uids[3], uids[4] }, imap:search{ "UNSEEN" })
        assert.same({ uids[2] }, imap:search{ "HEADER", "X-Priority", "1" })
        assert.same({ uids[2], uids[4] },
          imap:search{ "NOT", "FROM", "boss@example.org" })
        assert.same({ uids[2], uids[4] },
          imap:search{ "OR", "FROM", "friend@example.net",
            "FROM", "oma@example.de" })
        assert.same({ uids[3] }, imap:search{ "LARGER", 5000 })
        assert.same(uids, imap:search{ "SINCE", "1-Jan-2000" })
        assert.same({}, imap:search{ "SINCE", os.time() + 3 * 86400 })
        assert.same({ uids[1], uids[3] },
          imap:search{ "UNSEEN", { "OR", "LARGER", 5000, "BODY", "attached" } })
        assert.same({ uids[2], uids[3] },
          imap:search{ "UID", { uids[2], uids[3] } })
      end)

      it("escapes quotes and backslashes in search text", function()
        local uid = server.append(imap, "INBOX", {
          { subject = 'She said "yes" \\o/' } })[1]
        assert.same({ uid }, imap:search{ "SUBJECT", '"yes" \\o/' })
        assert.same({}, imap:search{ "SUBJECT", '"no" \\o/' })
      end)

      it("finds an 8-bit subject with UTF-8 search text", function()
        local sent, trace = recorder()
        imap:set_trace(trace)
        assert.same({ uids[4] }, imap:search{ "SUBJECT", "Grüße" })
        assert.same({ uids[4] }, imap:search{ "BODY", "Grüße" })
        assert.equal(2, sent_matching(sent, "CHARSET UTF%-8"))
      end)

      it("searches by sequence number with seq = true", function()
        assert.same({ 1, 3 }, imap:search({ "FROM", "boss@example.org" },
          { seq = true }))
      end)
    end)

    describe("fetch", function()
      it("returns flags, dates, sizes and UIDs in server order", function()
        local msgs = imap:fetch(uids, { "FLAGS", "INTERNALDATE",
          "RFC822.SIZE" })
        assert.equal(4, #msgs)
        for i, m in ipairs(msgs) do
          assert.equal(uids[i], m.uid)
          assert.equal(i, m.seq)
          assert.same({}, plain(m.flags))
          assert.matches("^%d%d%-%a%a%a%-%d%d%d%d %d%d:%d%d:%d%d [+-]%d%d%d%d$",
            m.internaldate)
          assert.equal("integer", math.type(m.size))
        end
        assert.is_true(msgs[3].size > 7000)
      end)

      it("parses the ENVELOPE", function()
        local m = imap:fetch(uids[1], { "ENVELOPE" })[1]
        local env = m.envelope
        assert.equal("Quarterly numbers", env.subject)
        assert.equal("Mon, 1 Jan 2024 10:00:00 +0000", env.date)
        assert.same({ { name = "Boss", mailbox = "boss",
          host = "example.org" } }, env.from)
        assert.same({ { name = "Alice", mailbox = "alice",
          host = "example.org" } }, env.to)
        -- Sender and Reply-To default to From (RFC 3501 7.4.2).
        assert.same(env.from, env.sender)
        assert.same(env.from, env.reply_to)
        assert.is_nil(env.cc)
        assert.matches("^<.+@example%.org>$", env.message_id)

        local multi = imap:append("INBOX", MULTIPART).uid
        local e2 = imap:fetch(multi, { "ENVELOPE" })[1].envelope
        assert.same({ { name = "Alice", mailbox = "alice",
          host = "example.org" }, { mailbox = "bob", host = "example.org" } },
          e2.to)
        assert.equal("<multi-1@example.org>", e2.message_id)
      end)

      it("parses the BODYSTRUCTURE of a multipart message", function()
        local uid = imap:append("INBOX", MULTIPART).uid
        local bs = imap:fetch(uid, { "BODYSTRUCTURE" })[1].bodystructure
        assert.equal("multipart", bs.type)
        assert.equal("mixed", bs.subtype)
        assert.equal("XyZ", bs.params.boundary)
        assert.equal(2, #bs.parts)
        local text, att = bs.parts[1], bs.parts[2]
        assert.equal("text", text.type)
        assert.equal("plain", text.subtype)
        assert.equal("utf-8", text.params.charset)
        assert.equal("8bit", text.encoding:lower())
        assert.equal(#"Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen\r\nzweite Zeile",
          text.size)
        assert.equal(1, text.lines)
        assert.equal("application", att.type)
        assert.equal("octet-stream", att.subtype)
        assert.equal("base64", att.encoding:lower())
        assert.equal("data.bin", att.params.name)
        assert.equal("attachment", att.disposition.type:lower())
        assert.equal("data.bin", att.disposition.params.filename)
      end)

      it("returns header fields, whole messages and decoded parts",
          function()
        local uid = imap:append("INBOX", MULTIPART).uid
        local m = imap:fetch(uid, { "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]",
          "BODY.PEEK[]", "BODY.PEEK[1]", "BINARY.PEEK[2]" })[1]
        -- The fields come in the message's order, then the blank line.
        assert.equal("From: Carol <carol@example.org>\r\n" ..
          "Subject: with attachment\r\n\r\n",
          m.body["HEADER.FIELDS (SUBJECT FROM)"])
        assert.equal(MULTIPART, m.body[""])
        assert.equal("Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen\r\nzweite Zeile",
          m.body["1"])
        -- BINARY decodes the base64 part, NUL bytes included.
        assert.equal("\0\1\2\3\4\5\6\7\8\9", m.binary["2"])
        -- PEEK left the message unseen.
        assert.same({}, plain(imap:fetch(uid, { "FLAGS" })[1].flags))
      end)

      it("returns a partial body with its origin", function()
        local uid = imap:append("INBOX", MULTIPART).uid
        local m = imap:fetch(uid, { "BODY.PEEK[]<6.5>",
          "BODY.PEEK[HEADER]" })[1]
        assert.equal(MULTIPART:sub(7, 11), m.body[""])
        assert.equal(6, m.origin[""])
        assert.equal(MULTIPART:match("^(.-\r\n\r\n)"), m.body.HEADER)
      end)

      it("streams messages through opts.each without collecting them",
          function()
        local seen = {}
        local result = imap:fetch(uids, { "UID", "RFC822.SIZE" }, {
          each = function(m) seen[#seen + 1] = m.uid end })
        assert.same({}, result)
        assert.same(uids, seen)
      end)

      it("fetches by sequence number with seq = true", function()
        local msgs = imap:fetch("2:3", { "UID" }, { seq = true })
        assert.same({ uids[2], uids[3] }, uids_of(msgs))
      end)
    end)

    describe("store", function()
      it("adds, removes and replaces flags", function()
        local r = imap:store({ uids[1], uids[2] }, "+FLAGS",
          { "\\Seen", "$Todo" })
        assert.equal(2, #r)
        for _, m in ipairs(r) do
          assert.is_true(has(m.flags, "\\Seen"))
          assert.is_true(has(m.flags, "$Todo"))
        end
        r = imap:store(uids[1], "-FLAGS", { "$Todo" })
        assert.same({ "\\Seen" }, plain(r[1].flags))
        assert.equal(uids[1], r[1].uid)
        r = imap:store({ uids[2] }, "FLAGS", { "\\Flagged" })
        assert.same({ "\\Flagged" }, plain(r[1].flags))
        assert.same({ uids[2] }, imap:search{ "FLAGGED" })
        assert.same({ uids[1] }, imap:search{ "SEEN" })
      end)

      it("is silent when asked", function()
        local r = imap:store(uids, "+FLAGS", { "\\Answered" },
          { silent = true })
        assert.same({}, r)
        assert.same(uids, imap:search{ "ANSWERED" })
      end)

      it("refuses an unknown mode before sending", function()
        local err = catch(imap.store, imap, uids, "REPLACE", { "\\Seen" })
        assert.equal("usage", err.kind)
      end)
    end)

    describe("expunge, close and unselect", function()
      it("expunge returns the sequence numbers removed", function()
        imap:store({ uids[2], uids[4] }, "+FLAGS.SILENT", { "\\Deleted" })
        local gone = imap:expunge()
        table.sort(gone) -- Dovecot reports them from the end: 4, then 2
        assert.same({ 2, 4 }, gone)
        assert.same({ uids[1], uids[3] }, imap:search("ALL"))
        assert.equal(2, imap.mailbox.exists)
      end)

      it("expunge with UIDs removes only those", function()
        imap:store({ uids[1], uids[2] }, "+FLAGS.SILENT", { "\\Deleted" })
        assert.same({ 2 }, imap:expunge({ uids[2] }))
        assert.same({ uids[1], uids[3], uids[4] }, imap:search("ALL"))
      end)

      it("check succeeds", function()
        assert.is_true(imap:check())
      end)

      it("close (CLOSE) expunges and leaves the selected state", function()
        imap:store({ uids[1] }, "+FLAGS.SILENT", { "\\Deleted" })
        assert.is_true(imap:close())
        assert.equal("AUTH", imap:state())
        assert.is_nil(imap.mailbox)
        assert.equal(3, imap:status("INBOX").messages)
      end)

      it("unselect leaves without expunging", function()
        imap:store({ uids[1] }, "+FLAGS.SILENT", { "\\Deleted" })
        assert.is_true(imap:unselect())
        assert.equal("AUTH", imap:state())
        assert.equal(4, imap:status("INBOX").messages)
      end)

      it("examine changes nothing", function()
        imap:store({ uids[1] }, "+FLAGS.SILENT", { "\\Deleted" })
        imap:examine("INBOX")
        -- Dovecot answers OK "Store ignored with read-only mailbox".
        imap:store({ uids[2] }, "+FLAGS", { "\\Seen" })
        assert.same({}, imap:search{ "SEEN" })
        assert.same({}, imap:expunge())
        assert.equal(4, imap:status("INBOX").messages)
      end)
    end)

    describe("copy and move", function()
      it("copy returns the COPYUID mapping", function()
        imap:create("Dest")
        local st = imap:status("Dest", { "UIDVALIDITY" })
        local r = imap:copy({ uids[1], uids[3] }, "Dest")
        assert.equal(st.uidvalidity, r.uidvalidity)
        assert.same({ uids[1], uids[3] }, r.source)
        assert.equal(2, #r.dest)
        assert.equal(4, imap:status("INBOX").messages)
        imap:select("Dest")
        assert.same(r.dest, imap:search("ALL"))
        local subjects = {}
        for _, m in ipairs(imap:fetch(r.dest, { "ENVELOPE" })) do
          subjects[#subjects + 1] = m.envelope.subject
        end
        assert.same({ "Quarterly numbers", "Re: Quarterly numbers" },
          subjects)
      end)

      it("copy to a missing mailbox fails with TRYCREATE", function()
        local err = catch(imap.copy, imap, { uids[1] }, "Nope")
        assert.equal("no", err.kind)
        assert.equal("TRYCREATE", err.code)
        assert.equal('COPY to "Nope"', err.command)
        assert.matches('COPY to "Nope" failed: NO [TRYCREATE]',
          tostring(err), 1, true)
      end)

      it("move uses MOVE and returns the mapping", function()
        imap:create("Dest")
        local sent, trace = recorder()
        imap:set_trace(trace)
        local r = imap:move({ uids[2], uids[4] }, "Dest")
        assert.equal(1, sent_matching(sent, "UID MOVE "))
        assert.same({ uids[2], uids[4] }, r.source)
        assert.equal(imap:status("Dest", { "UIDVALIDITY" }).uidvalidity,
          r.uidvalidity)
        assert.equal(2, #r.dest)
        assert.same({ uids[1], uids[3] }, imap:search("ALL"))
        assert.equal(2, imap.mailbox.exists)
        assert.equal(2, imap:status("Dest").messages)
      end)

      it("move falls back to COPY, STORE and UID EXPUNGE without MOVE",
          function()
        imap:create("Dest")
        -- Another message is \Deleted but must survive the move.
        imap:store({ uids[1] }, "+FLAGS.SILENT", { "\\Deleted" })
        imap.capabilities.MOVE = nil
        local sent, trace = recorder()
        imap:set_trace(trace)
        local r = imap:move({ uids[2], uids[3] }, "Dest")
        assert.equal(0, sent_matching(sent, "MOVE"))
        assert.equal(1, sent_matching(sent, "UID COPY "))
        assert.equal(1, sent_matching(sent, "UID EXPUNGE "))
        assert.equal(0, sent_matching(sent, "^%S+ EXPUNGE$"))
        assert.same({ uids[2], uids[3] }, r.source)
        assert.same({ uids[1], uids[4] }, imap:search("ALL"))
        assert.same({ uids[1] }, imap:search("DELETED"))
        imap:select("Dest")
        assert.same(r.dest, imap:search("ALL"))
        assert.same({}, imap:search("DELETED"))
      end)
    end)

    describe("long message sets", function()
      it("splits a set too long for one line and merges the results",
          function()
        -- Every other UID of 300 messages: no ranges to compress into.
        local all = server.fill(imap, "INBOX", 300)
        local odd = {}
        for i = 1, #all, 2 do odd[#odd + 1] = all[i] end
        imap:logout() -- reconnect with a short line limit
        imap = server.connect{ max_line = 300 }
        imap:select("INBOX")
        local sent, trace = recorder()
        imap:set_trace(trace)
        local r = imap:store(odd, "+FLAGS", { "$Odd" })
        local stores = sent_matching(sent, "UID STORE ")
        assert.is_true(stores > 5, "only " .. stores .. " STORE commands")
        for _, line in ipairs(sent) do
          assert.is_true(#line <= 300, "line too long: " .. #line)
        end
        assert.equal(#odd, #r)
        assert.same(odd, uids_of(r))
        assert.same(odd, imap:search{ "KEYWORD", "$Odd" })
        local f = imap:fetch(odd, { "FLAGS" })
        assert.equal(#odd, #f)
        assert.is_true(sent_matching(sent, "UID FETCH ") > 5)
        assert.same(odd, imap:search{ "UID", odd })
      end)

      it("sends 20,000 UIDs with the default line limit", function()
        -- UIDs that do not exist are fine in UID commands, so 20,000
        -- numbers of the parity of uids[1] cover uids[1] and uids[3]
        -- (the four are consecutive) and make a line of ~120 KB, twice
        -- what Dovecot accepts in one line.
        local many, start = {}, uids[1] % 2 == 1 and 1 or 2
        for i = 0, 19999 do many[#many + 1] = start + 2 * i end
        local hit = { uids[1], uids[3] }
        local sent, trace = recorder()
        imap:set_trace(trace)
        local r = imap:store(many, "+FLAGS", { "$Many" })
        assert.same(hit, uids_of(r))
        assert.is_true(sent_matching(sent, "UID STORE ") >= 15)
        for _, line in ipairs(sent) do assert.is_true(#line <= 8000) end
        assert.same(hit, uids_of(imap:fetch(many, { "UID" })))
        assert.is_true(sent_matching(sent, "UID FETCH ") >= 15)
        assert.same(hit, imap:search{ "UID", many })
        assert.is_true(sent_matching(sent, "UID SEARCH ") >= 15)
        imap:store(uids[1], "+FLAGS", { "\\Seen" })
        assert.same({ uids[3] }, imap:search{ "UNSEEN", "UID", many,
          "FROM", "boss@example.org" })
        assert.same({ uids[2], uids[4] }, imap:search{ "NOT", "KEYWORD",
          "$Many" })
      end)
    end)
  end)

  describe("extensions and the generic command", function()
    it("enables CONDSTORE and then reports MODSEQ", function()
      local plain_box = imap:select("INBOX", { condstore = true })
      assert.equal("integer", math.type(plain_box.highestmodseq))
      imap:unselect()
      local enabled = imap:enable("CONDSTORE")
      assert.same({ "CONDSTORE" }, enabled)
      local uid = server.append(imap, "INBOX", { {} })[1]
      imap:select("INBOX")
      assert.equal("integer", math.type(imap.mailbox.highestmodseq))
      local m = imap:fetch(uid, { "FLAGS", "MODSEQ" })[1]
      assert.equal("integer", math.type(m.modseq))
      assert.is_true(m.modseq <= imap.mailbox.highestmodseq)
      -- A STORE raises the message's MODSEQ.
      local after = imap:store(uid, "+FLAGS", { "\\Seen" })[1]
      assert.is_true(after.modseq > m.modseq)
    end)

    it("enables UTF8=ACCEPT only when the server offers it", function()
      if imap.capabilities["UTF8=ACCEPT"] then
        assert.same({ "UTF8=ACCEPT" }, imap:enable("UTF8=ACCEPT"))
        assert.is_true(imap.utf8)
        imap:create("Ünïcode")
        assert.is_truthy(names_of(imap:list())["Ünïcode"])
      else
        -- Dovecot 2.3 does not offer it: ENABLE answers OK and enables
        -- nothing, and names keep travelling as modified UTF-7.
        assert.same({}, imap:enable("UTF8=ACCEPT"))
        assert.is_false(imap.utf8)
        local sent, trace = recorder()
        imap:set_trace(trace)
        imap:create("Ünïcode")
        assert.equal(1, sent_matching(sent, "CREATE &ANw%-n&AO8%-code$"))
        assert.is_truthy(names_of(imap:list())["Ünïcode"])
      end
    end)

    it("runs any command with command()", function()
      local tagged, data = imap:command("GETQUOTAROOT",
        { { mailbox = "INBOX" } }, { mutating = false })
      assert.equal("OK", tagged.status)
      local types = {}
      for _, r in ipairs(data) do types[r.type] = r end
      assert.is_truthy(types.QUOTAROOT)
      assert.is_truthy(types.QUOTA)
      assert.same({ "INBOX", "User quota" }, types.QUOTAROOT.args)
    end)

    it("tracks EXPUNGE and FLAGS caused by another connection", function()
      local uids = server.append(imap, "INBOX", { {}, {}, {} })
      assert.equal(3, imap:select("INBOX").exists)
      imap:response("EXPUNGE")
      local other = server.connect()
      other:select("INBOX")
      other:store({ uids[3] }, "+FLAGS", { "\\Flagged" })
      other:store({ uids[1] }, "+FLAGS.SILENT", { "\\Deleted" })
      other:expunge()
      other:logout()
      imap:response("FETCH")
      imap:noop()
      assert.equal(2, imap.mailbox.exists)
      local expunges = imap:response("EXPUNGE")
      assert.equal(1, #expunges)
      assert.equal(1, expunges[1].n)
      local flagged
      -- Flag updates fold into the mailbox; response() keeps them.
      for _, r in ipairs(imap:response("FETCH")) do
        if r.type == "FETCH" and has(r.flags or {}, "\\Flagged") then
          flagged = r
        end
      end
      assert.is_truthy(flagged, "no FETCH FLAGS for the flagged message")
      assert.same({ uids[2], uids[3] }, imap:search("ALL"))
    end)

    it("response() returns untagged data seen from another connection",
        function()
      imap:select("INBOX")
      imap:response("EXISTS") -- forget what SELECT brought
      local other = server.connect()
      server.append(other, "INBOX", { {}, {} })
      other:logout()
      imap:noop()
      local list = imap:response("EXISTS")
      assert.is_true(#list >= 1)
      assert.equal(2, list[#list].n)
      assert.same({}, imap:response("EXISTS")) -- forgotten once read
    end)
  end)

  describe("state checks", function()
    it("refuses commands in the wrong state before sending them",
        function()
      local sent, trace = recorder()
      imap:set_trace(trace)
      assert.equal("AUTH", imap:state())
      local err = catch(imap.fetch, imap, { 1 }, { "FLAGS" })
      assert.equal("usage", err.kind)
      err = catch(imap.store, imap, { 1 }, "+FLAGS", { "\\Seen" })
      assert.equal("usage", err.kind)
      err = catch(imap.expunge, imap)
      assert.equal("usage", err.kind)
      assert.same({}, sent)
      -- The connection is still usable.
      assert.equal("table", type(imap:noop()))
    end)

    it("refuses mailbox commands before login", function()
      local c = server.connect_anonymous()
      local sent, trace = recorder()
      c:set_trace(trace)
      local err = catch(c.select, c, "INBOX")
      assert.equal("usage", err.kind)
      err = catch(c.create, c, "X")
      assert.equal("usage", err.kind)
      assert.same({}, sent)
      c:logout()
    end)
  end)
end)

describe("reconnect", function()
  it("logs in again over a new link and re-selects the mailbox", function()
    local imap = server.connect()
    server.reset(imap)
    server.fill(imap, "INBOX", 2)
    local before = imap:select("INBOX")
    imap.conn:close() -- the link drops under the connection object
    assert.has_error(function() imap:noop() end)
    imap:reconnect()
    assert.equal("SELECTED", imap:state())
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal(before.uidvalidity, imap.mailbox.uidvalidity)
    assert.equal(2, imap.mailbox.exists)
    assert.is_false(imap.uidvalidity_changed)
    assert.equal(2, #imap:search{ "ALL" })
    imap:logout()
  end)
end)
