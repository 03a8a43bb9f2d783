-- Specs for the connection object (imapsift.connection, imapsift.commands
-- and the C session underneath) against the scripted fake server: the
-- cases a real server will not produce (odd greetings, refusals, cuts,
-- malformed bytes, hostile literals, limits) and the exact bytes sent.
local errors = require "imapsift.error"
local set = require "imapsift.set"
local fake = require "support.fake"
local util = require "support.util"

local CRLF = "\r\n"

local session = fake.session()
local function start(steps, extra) return session:start(steps, extra) end
local function start_error(steps, extra)
  return session:start_error(steps, extra)
end
local err_of = util.catch

local finish = session.finish

local function greet(caps)
  return fake.greeting(caps)
end

local function preauth(caps)
  return { send = "* PREAUTH [CAPABILITY " .. (caps or "IMAP4rev1") ..
    "] logged in already" .. CRLF }
end

-- PREAUTH, then SELECT INBOX (tag A1) read-write with 3 messages.
local function selected(caps, more)
  local steps = {
    preauth(caps),
    { recv = "^A1 SELECT INBOX\r\n$" },
    { send = "* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n" ..
      "* OK [UIDVALIDITY 42] x\r\n* OK [UIDNEXT 10] x\r\n" ..
      "* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] x\r\n" },
    { reply = "OK [READ-WRITE] selected" },
  }
  for _, s in ipairs(more or {}) do steps[#steps + 1] = s end
  return steps
end

local SELECT_BYTES = "A1 SELECT INBOX\r\n"

local function open_selected(caps, more, extra)
  local imap, srv = start(selected(caps, more), extra)
  local box = imap:select("INBOX")
  assert.equal(3, box.exists)
  return imap, srv, box
end

after_each(function() session:cleanup() end)

describe("greetings", function()
  it("OK greeting: NONAUTH, capabilities from the greeting code", function()
    local imap, srv = start{ greet("IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN"),
      { drain = true } }
    assert.equal("NONAUTH", imap:state())
    assert.is_true(imap.capabilities.IDLE)
    assert.is_true(imap.capabilities.IMAP4REV1)
    assert.is_true(imap.capabilities["AUTH=PLAIN"])
    assert.is_nil(imap.capabilities.MOVE)
    assert.equal("", finish(imap, srv))
  end)

  it("PREAUTH greeting: AUTH state, no LOGIN, mailbox commands allowed",
      function()
    local imap, srv = start({ preauth(), { recv = "^A1 SELECT INBOX\r\n$" },
      { send = "* 7 EXISTS\r\n" }, { reply = "OK [READ-WRITE] ok" } },
      { user = nil })
    assert.equal("AUTH", imap:state())
    local box = imap:select("INBOX")
    assert.equal(7, box.exists)
    assert.is_false(box.readonly)
    assert.equal("SELECTED", imap:state())
    assert.equal(SELECT_BYTES, finish(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("BYE greeting: error kind bye with the server's text", function()
    local err = start_error{ { send = "* BYE too many connections\r\n" } }
    assert.is_true(errors.is(err, "bye"))
    assert.equal("too many connections", err.text)
    assert.matches("BYE too many connections", tostring(err))
  end)

  it("a greeting that is not untagged is a protocol error", function()
    local err = start_error{ { send = "A1 OK hello\r\n" } }
    assert.is_true(errors.is(err, "protocol"))
  end)
end)

describe("CAPABILITY", function()
  it("parses the response into an upper-case set", function()
    local imap, srv = start{ { send = "* OK hi\r\n" },
      { recv = "^A1 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 idle Move AUTH=PLAIN\r\n" },
      { reply = "OK done" } }
    assert.is_nil(imap.capabilities.IDLE)
    local caps = imap:capability()
    assert.is_true(caps.IDLE)
    assert.is_true(imap.capabilities.IDLE)
    assert.is_true(imap.capabilities.MOVE)
    assert.is_true(imap.capabilities["AUTH=PLAIN"])
    assert.equal("A1 CAPABILITY\r\n", finish(imap, srv))
  end)

  it("a CAPABILITY command without the response is a protocol error",
      function()
    local imap = start{ { send = "* OK hi\r\n" }, { recv = "CAPABILITY" },
      { reply = "OK done" } }
    assert.equal("protocol", err_of(imap.capability, imap).kind)
  end)
end)

describe("LOGIN", function()
  it("quotes a password with a space, a quote and a backslash", function()
    local imap, srv = start({ greet("IMAP4rev1"),
      { recv = "^A1 LOGIN" },
      { reply = "OK [CAPABILITY IMAP4rev1 IDLE] welcome" } },
      { user = "alice", password = 'p w"d\\' })
    assert.equal("AUTH", imap:state())
    assert.is_true(imap.capabilities.IDLE) -- from the LOGIN reply
    assert.equal('A1 LOGIN alice "p w\\"d\\\\"\r\n', finish(imap, srv))
  end)

  it("asks for CAPABILITY after LOGIN when the reply has none", function()
    local imap, srv = start({ greet("IMAP4rev1"),
      { recv = "^A1 LOGIN" }, { reply = "OK welcome" },
      { recv = "^A2 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 MOVE\r\n" }, { reply = "OK" } },
      { user = "alice", password = "secret" })
    assert.is_true(imap.capabilities.MOVE)
    assert.equal('A1 LOGIN alice secret\r\nA2 CAPABILITY\r\n',
      finish(imap, srv))
  end)

  it("sends an 8-bit password as a literal after the continuation",
      function()
    local imap, srv = start({ greet("IMAP4rev1"),
      { recv = "^A1 LOGIN alice {7}\r\np\195\164sswd\r\n$" },
      { reply = "OK [CAPABILITY IMAP4rev1] welcome" } },
      { user = "alice", password = "p\195\164sswd" })
    assert.equal("AUTH", imap:state())
    assert.equal("A1 LOGIN alice {7}\r\np\195\164sswd\r\n", finish(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("waits for the continuation before sending a literal", function()
    -- The fake answers the literal announcement with NO instead of "+":
    -- a client that did not wait would have sent the password already.
    local imap, srv = start{ greet("IMAP4rev1"),
      { recv = "^A1 LOGIN", refuse = "NO no literals today" },
      { drain = true } }
    local err = err_of(imap.login, imap, "alice", "p\195\164sswd")
    assert.equal("no", err.kind)
    assert.equal("no literals today", err.text)
    assert.equal("NONAUTH", imap:state())
    assert.equal("A1 LOGIN alice {7}\r\n", finish(imap, srv))
  end)

  it("uses LITERAL+ without waiting when the server offers it", function()
    -- The fake never sends "+": a client that waited would time out.
    local imap, srv = start({ greet("IMAP4rev1 LITERAL+"),
      { recv = "^A1 LOGIN alice {7%+}\r\np\195\164sswd\r\n$" },
      { reply = "OK [CAPABILITY IMAP4rev1] welcome" } },
      { user = "alice", password = "p\195\164sswd", timeout = 2 })
    assert.equal("AUTH", imap:state())
    assert.equal("A1 LOGIN alice {7+}\r\np\195\164sswd\r\n",
      finish(imap, srv))
  end)

  it("respects LOGINDISABLED: refuses before sending anything", function()
    local imap, srv = start{ greet("IMAP4rev1 LOGINDISABLED"),
      { drain = true } }
    local err = err_of(imap.login, imap, "alice", "secret")
    assert.equal("usage", err.kind)
    assert.matches("LOGINDISABLED", tostring(err))
    assert.equal("NONAUTH", imap:state())
    assert.equal("", finish(imap, srv))
  end)

  it("a NO to LOGIN is an error of kind no; nothing else is sent",
      function()
    local err, srv = start_error({ greet("IMAP4rev1"), { recv = "LOGIN" },
      { reply = "NO [AUTHENTICATIONFAILED] Invalid credentials" },
      { drain = true } }, { user = "alice", password = "wrong" })
    assert.equal("no", err.kind)
    assert.equal("AUTHENTICATIONFAILED", err.code)
    assert.equal("Invalid credentials", err.text)
    assert.matches('^LOGIN as "alice" failed: NO %[AUTHENTICATIONFAILED%]',
      tostring(err))
    assert.equal("A1 LOGIN alice wrong\r\n", srv:log())
  end)

  it("reports a REFERRAL code and follows nothing", function()
    local imap, srv = start{ greet("IMAP4rev1"), { recv = "LOGIN" },
      { reply = "NO [REFERRAL imap://alice@evil.example/] go elsewhere" },
      { drain = true } }
    local err = err_of(imap.login, imap, "alice", "secret")
    assert.equal("no", err.kind)
    assert.equal("REFERRAL", err.code)
    assert.equal("NONAUTH", imap:state())
    assert.equal("A1 LOGIN alice secret\r\n", finish(imap, srv))
  end)
end)

describe("command states", function()
  it("refuses FETCH before SELECT without sending anything", function()
    local imap, srv = start{ preauth(), { drain = true } }
    local err = err_of(imap.fetch, imap, { 1 }, { "FLAGS" })
    assert.equal("usage", err.kind)
    assert.matches("FETCH", tostring(err))
    err = err_of(imap.store, imap, { 1 }, "+FLAGS", { "\\Seen" })
    assert.equal("usage", err.kind)
    assert.equal("AUTH", imap:state())
    assert.equal("", finish(imap, srv))
  end)

  it("refuses SELECT before LOGIN without sending anything", function()
    local imap, srv = start{ greet("IMAP4rev1"), { drain = true } }
    assert.equal("usage", err_of(imap.select, imap, "INBOX").kind)
    assert.equal("usage", err_of(imap.list, imap).kind)
    assert.equal("", finish(imap, srv))
  end)

  it("a refused command does not use up a tag", function()
    local imap, srv = start{ preauth(), { recv = "^A1 NOOP\r\n$" },
      { reply = "OK" } }
    err_of(imap.fetch, imap, { 1 }, { "FLAGS" })
    imap:noop()
    assert.equal("A1 NOOP\r\n", finish(imap, srv))
  end)
end)

describe("tagged NO and BAD", function()
  it("NO [TRYCREATE] becomes a readable error; the session goes on",
      function()
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 UID COPY 1:3 Archive\r\n$" },
      { reply = "NO [TRYCREATE] Mailbox doesn't exist" },
      { recv = "^A3 NOOP\r\n$" }, { reply = "OK" } })
    local err = err_of(imap.copy, imap, { 3, 1, 2 }, "Archive")
    assert.equal("no", err.kind)
    assert.equal("TRYCREATE", err.code)
    assert.equal("Mailbox doesn't exist", err.text)
    assert.equal('COPY to "Archive" failed: NO [TRYCREATE] ' ..
      "Mailbox doesn't exist", tostring(err))
    imap:noop()
    assert.equal("SELECTED", imap:state())
    assert.equal(SELECT_BYTES .. "A2 UID COPY 1:3 Archive\r\nA3 NOOP\r\n",
      finish(imap, srv))
  end)

  it("BAD becomes an error of kind bad", function()
    local imap = start{ greet(), { recv = "^A1 NOOP" },
      { reply = "BAD [CLIENTBUG] what?" } }
    local err = err_of(imap.noop, imap)
    assert.equal("bad", err.kind)
    assert.equal("CLIENTBUG", err.code)
    assert.equal("NOOP failed: BAD [CLIENTBUG] what?", tostring(err))
  end)
end)

describe("untagged data during a command", function()
  it("EXISTS, EXPUNGE and FETCH FLAGS during NOOP update the mailbox",
      function()
    local imap, srv, box = open_selected("IMAP4rev1", {
      { recv = "^A2 NOOP\r\n$" },
      { send = "* 5 EXISTS\r\n* 2 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Seen))\r\n" ..
        "* 4 RECENT\r\n" },
      { reply = "OK done" } })
    local data = imap:noop()
    assert.equal(4, imap.mailbox.exists)
    assert.equal(box, imap.mailbox)
    assert.equal(4, imap.mailbox.recent)
    local fetches = imap:response("FETCH")
    assert.equal(1, #fetches)
    assert.same({ "\\Seen" }, fetches[1].flags)
    assert.equal(1, fetches[1].seq)
    -- Folded into the mailbox, not collected as the command's data.
    assert.equal(0, #data)
    assert.same({ 2 }, data.expunged)
    finish(imap, srv)
  end)

  it("collects ALERTs", function()
    local seen = {}
    local imap = start({ greet(), { recv = "^A1 NOOP" },
      { send = "* OK [ALERT] System going down in 5 minutes\r\n" },
      { reply = "OK [ALERT] Really." } },
      { on_alert = function(t) seen[#seen + 1] = t end })
    imap:noop()
    assert.same({ "System going down in 5 minutes", "Really." }, imap.alerts)
    assert.same(imap.alerts, seen)
  end)

  it("response(type) returns the accumulated data and forgets it",
      function()
    local imap = start{ preauth(), { recv = "^A1 NOOP" },
      { send = "* 5 EXISTS\r\n" }, { reply = "OK" },
      { recv = "^A2 NOOP" }, { send = "* 6 EXISTS\r\n" }, { reply = "OK" } }
    imap:noop()
    imap:noop()
    local list = imap:response("exists")
    assert.equal(2, #list)
    assert.equal(5, list[1].n)
    assert.equal(6, list[2].n)
    assert.same({}, imap:response("EXISTS"))
  end)

  it("READ-ONLY after a read-write SELECT raises readonly", function()
    local imap, srv, box = open_selected("IMAP4rev1", {
      { recv = "^A2 NOOP" },
      { send = "* OK [READ-ONLY] mailbox is now read-only\r\n" },
      { reply = "OK done" } })
    assert.is_false(box.readonly)
    local err = err_of(imap.noop, imap)
    assert.equal("readonly", err.kind)
    assert.equal("READ-ONLY", err.code)
    assert.is_true(imap.mailbox.readonly)
    finish(imap, srv)
  end)

  it("READ-ONLY in a tagged reply after read-write SELECT raises readonly",
      function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { reply = "OK [READ-ONLY] now read-only" } })
    assert.equal("readonly", err_of(imap.noop, imap).kind)
  end)

  it("EXAMINE's READ-ONLY is no error", function()
    local imap = start{ preauth(), { recv = "^A1 EXAMINE INBOX\r\n$" },
      { send = "* 2 EXISTS\r\n" }, { reply = "OK [READ-ONLY] examined" },
      { recv = "^A2 NOOP" }, { reply = "OK" } }
    local box = imap:examine("INBOX")
    assert.is_true(box.readonly)
    imap:noop()
  end)
end)

describe("literals from the server", function()
  it("a literal body holding a tagged OK and a BYE is data", function()
    local body = "Subject: x\r\n\r\nA2 OK done\r\nA0007 OK done\r\n" ..
      "* BYE x\r\n"
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 UID FETCH 5 %(BODY%.PEEK%[%]%)\r\n$" },
      { send = "* 1 FETCH (UID 5 BODY[] {" .. #body .. "}\r\n" .. body ..
        ")\r\n" },
      { reply = "OK fetched" },
      { recv = "^A3 NOOP" }, { reply = "OK" } })
    local msgs = imap:fetch({ 5 }, { "BODY.PEEK[]" })
    assert.equal(1, #msgs)
    assert.equal(5, msgs[1].uid)
    assert.equal(body, msgs[1].body[""])
    assert.equal("SELECTED", imap:state())
    imap:noop()
    assert.equal("done", (finish(imap, srv) and srv:status()))
  end)

  it("8-bit and NUL bytes in a literal are preserved", function()
    local body = "a\0b\255\r\n\1"
    local imap = open_selected("IMAP4rev1", { { recv = "FETCH" },
      { send = "* 1 FETCH (UID 9 BODY[TEXT] {" .. #body .. "}\r\n" .. body ..
        ")\r\n" }, { reply = "OK" } })
    assert.equal(body, imap:fetch({ 9 }, { "BODY.PEEK[TEXT]" })[1].body.TEXT)
  end)

  it("a cut in the middle of a literal is an error, later calls raise",
      function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { send = "* 1 FETCH (UID 5 BODY[] {100}\r\nonly part of it" },
      { close = true } })
    local err = err_of(imap.noop, imap)
    assert.is_true(err.kind == "closed" or err.kind == "protocol",
      "kind " .. err.kind)
    assert.is_string(tostring(err))
    local again = err_of(imap.noop, imap)
    assert.is_string(again.kind)
  end)

  it("BYE in the middle of a command is an error of kind bye", function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { send = "* BYE shutting down for maintenance\r\n" },
      { close = true } })
    local err = err_of(imap.noop, imap)
    assert.equal("bye", err.kind)
    assert.equal("shutting down for maintenance", err.text)
    assert.equal("NOOP failed: BYE shutting down for maintenance",
      tostring(err))
    assert.equal("LOGOUT", imap:state())
    assert.is_true(errors.is(err_of(imap.noop, imap)))
  end)

  it("malformed bytes are a readable protocol error", function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { send = "* 1 FETCH (UID {abc}\r\n" }, { drain = true } })
    local err = err_of(imap.noop, imap)
    assert.equal("protocol", err.kind)
    assert.is_string(err.text)
    assert.is_true(#err.text > 0)
    assert.matches("^NOOP failed: %(protocol%) ", tostring(err))
    assert.is_true(errors.is(err_of(imap.noop, imap)))
  end)

  it("a literal announced beyond limits.max_literal is refused", function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { send = "* 1 FETCH (UID 5 BODY[] {5000}\r\n" }, { drain = true } },
      { limits = { max_literal = 1000 } })
    local err = err_of(imap.noop, imap)
    assert.equal("limit", err.kind)
    assert.matches("^NOOP failed: %(limit%) ", tostring(err))
  end)

  it("a line beyond limits.max_line is refused", function()
    local imap = open_selected("IMAP4rev1", { { recv = "^A2 NOOP" },
      { send = "* OK " .. ("x"):rep(3000) .. "\r\n" }, { drain = true } },
      { limits = { max_line = 1000 } })
    assert.equal("limit", err_of(imap.noop, imap).kind)
  end)
end)

-- The message sets in the log for lines matching pattern (one capture).
local function sets_in(log, pattern)
  local out = {}
  for line in log:gmatch("[^\n]*\n") do
    local s = line:match(pattern)
    if s then out[#out + 1] = { set = s, len = #line } end
  end
  return out
end

describe("message sets", function()
  it("splits a long UID STORE over several short commands", function()
    local uids = {}
    for i = 1, 20000 do uids[i] = 2 * i end
    local imap, srv = open_selected("IMAP4rev1", {
      { recv_all = "^A%d+ UID STORE [%d:,]+ %+FLAGS%.SILENT %(\\Seen%)\r\n$",
        reply = "OK stored", ["until"] = "^A%d+ NOOP\r\n$" },
      { reply = "OK" } }, { max_line = 1000 })
    local res = imap:store(uids, "+FLAGS", { "\\Seen" }, { silent = true })
    assert.same({}, res)
    imap:noop()
    local log = finish(imap, srv)
    assert.equal("done", srv:status())
    local cmds = sets_in(log, "^A%d+ UID STORE (%S+) ")
    assert.is_true(#cmds > 1, "only " .. #cmds .. " command(s)")
    local got, seen = {}, {}
    for _, c in ipairs(cmds) do
      assert.is_true(c.len <= 1000, "line of " .. c.len .. " bytes")
      for _, u in ipairs(set.expand(c.set)) do
        assert.is_nil(seen[u], "UID " .. u .. " sent twice")
        seen[u] = true
        got[#got + 1] = u
      end
    end
    table.sort(got)
    assert.same(uids, got)
  end)

  it("merges the results of the pieces of a split FETCH", function()
    local uids = {}
    for i = 1, 3000 do uids[i] = 3 * i end
    -- Answers each piece with one FETCH for the first UID of its set.
    local script = [[return function(cmd, tag)
      local first = cmd:match("UID FETCH (%d+)")
      return "* 1 FETCH (UID " .. first .. " FLAGS ())\r\n" .. tag ..
        " OK fetched\r\n"
    end]]
    local imap, srv = open_selected("IMAP4rev1", {
      { recv_all = "^A%d+ UID FETCH [%d:,]+ %(FLAGS%)\r\n$", script = script,
        ["until"] = "^A%d+ NOOP\r\n$" },
      { reply = "OK" } }, { max_line = 500 })
    local msgs = imap:fetch(uids, { "FLAGS" })
    imap:noop()
    local cmds = sets_in(finish(imap, srv), "^A%d+ UID FETCH (%S+) ")
    assert.is_true(#cmds > 1)
    assert.equal(#cmds, #msgs)
    local covered = 0
    for i, c in ipairs(cmds) do
      assert.is_true(c.len <= 500)
      local piece = set.expand(c.set)
      assert.equal(piece[1], msgs[i].uid)
      covered = covered + #piece
    end
    assert.equal(#uids, covered)
  end)

  it("sends sequence numbers without UID when asked", function()
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 STORE 1:3 FLAGS %(%)\r\n$" },
      { send = "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\n" },
      { reply = "OK" } })
    local res = imap:store({ 1, 2, 3 }, "FLAGS", {}, { seq = true })
    assert.equal(2, #res)
    assert.equal(SELECT_BYTES .. "A2 STORE 1:3 FLAGS ()\r\n",
      finish(imap, srv))
  end)
end)

describe("COPY, MOVE, APPEND", function()
  it("copy returns the COPYUID mapping", function()
    local imap = open_selected("IMAP4rev1 UIDPLUS", {
      { recv = "^A2 UID COPY 4:5 Archive\r\n$" },
      { reply = "OK [COPYUID 38505 4:5 100,107] done" } })
    local m = imap:copy({ 5, 4 }, "Archive")
    assert.same({ uidvalidity = 38505, source = { 4, 5 }, dest = { 100, 107 } },
      m)
  end)

  it("move uses MOVE when offered", function()
    local imap, srv = open_selected("IMAP4rev1 MOVE UIDPLUS", {
      { recv = "^A2 UID MOVE" },
      { send = "* OK [COPYUID 9 1:2 11:12] moved\r\n* 1 EXPUNGE\r\n" ..
        "* 1 EXPUNGE\r\n" },
      { reply = "OK done" } })
    local m = imap:move({ 1, 2 }, "Archive")
    assert.same({ uidvalidity = 9, source = { 1, 2 }, dest = { 11, 12 } }, m)
    assert.equal(1, imap.mailbox.exists)
    assert.equal(SELECT_BYTES .. "A2 UID MOVE 1:2 Archive\r\n",
      finish(imap, srv))
  end)

  it("move without MOVE but with UIDPLUS: COPY, STORE, UID EXPUNGE",
      function()
    local imap, srv = open_selected("IMAP4rev1 UIDPLUS", {
      { recv = "^A2 UID COPY" },
      { reply = "OK [COPYUID 9 1:3,7 101:104] copied" },
      { recv = "^A3 UID STORE" }, { reply = "OK" },
      { recv = "^A4 UID EXPUNGE" },
      { send = "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n" }, { reply = "OK" } })
    local m = imap:move({ 7, 3, 1, 2 }, "Archive")
    assert.same({ uidvalidity = 9, source = { 1, 2, 3, 7 },
      dest = { 101, 102, 103, 104 } }, m)
    assert.equal(SELECT_BYTES ..
      "A2 UID COPY 1:3,7 Archive\r\n" ..
      "A3 UID STORE 1:3,7 +FLAGS.SILENT (\\Deleted)\r\n" ..
      "A4 UID EXPUNGE 1:3,7\r\n", finish(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("move without MOVE and UIDPLUS refuses unless expunge_all", function()
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 UID COPY" }, { reply = "OK copied" },
      { recv = "^A3 UID STORE" }, { reply = "OK" },
      { recv = "^A4 EXPUNGE" }, { reply = "OK" } })
    local err = err_of(imap.move, imap, { 1, 2 }, "Archive")
    assert.equal("usage", err.kind)
    assert.equal(SELECT_BYTES, srv:log())
    assert.is_true(imap:move({ 1, 2 }, "Archive", { expunge_all = true }))
    assert.equal(SELECT_BYTES ..
      "A2 UID COPY 1:2 Archive\r\n" ..
      "A3 UID STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n" ..
      "A4 EXPUNGE\r\n", finish(imap, srv))
  end)

  it("append returns the APPENDUID mapping", function()
    local msg = "Subject: hi\r\n\r\nbody\r\n"
    local imap, srv = start{ preauth("IMAP4rev1 UIDPLUS"),
      { recv = "^A1 APPEND Archive %(\\Seen%) {" .. #msg .. "}\r\n" },
      { reply = "OK [APPENDUID 38505 3955] APPEND completed" } }
    local r = imap:append("Archive", msg, { flags = { "\\Seen" } })
    assert.equal(38505, r.uidvalidity)
    assert.equal(3955, r.uid)
    assert.equal("A1 APPEND Archive (\\Seen) {" .. #msg .. "}\r\n" .. msg ..
      "\r\n", finish(imap, srv))
  end)
end)

describe("SEARCH", function()
  it("uses ESEARCH when offered and expands the ALL set", function()
    local imap, srv = open_selected("IMAP4rev1 ESEARCH", {
      { recv = "^A2 UID SEARCH" },
      { send = '* ESEARCH (TAG "A2") UID ALL 1:3,7\r\n' },
      { reply = "OK done" } })
    assert.same({ 1, 2, 3, 7 }, imap:search{ "UNSEEN" })
    assert.equal(SELECT_BYTES .. "A2 UID SEARCH RETURN (ALL) UNSEEN\r\n",
      finish(imap, srv))
  end)

  it("an ESEARCH without ALL means no match", function()
    local imap = open_selected("IMAP4rev1 ESEARCH", {
      { recv = "^A2 UID SEARCH" }, { send = '* ESEARCH (TAG "A2") UID\r\n' },
      { reply = "OK done" } })
    assert.same({}, imap:search{ "DELETED" })
  end)

  it("keeps every SEARCH line of one command", function()
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 UID SEARCH" },
      { send = "* SEARCH 9 5\r\n* SEARCH\r\n* SEARCH 2\r\n" },
      { reply = "OK done" } })
    assert.same({ 2, 5, 9 }, imap:search{ "FROM", 'boss "big" b' })
    assert.equal(SELECT_BYTES .. 'A2 UID SEARCH FROM "boss \\"big\\" b"\r\n',
      finish(imap, srv))
  end)

  it("sends 8-bit text with CHARSET UTF-8 as a literal", function()
    local text = "Gr\195\188\195\159e"
    local imap, srv = open_selected("IMAP4rev1", {
      { recv = "^A2 UID SEARCH" }, { send = "* SEARCH 4\r\n" },
      { reply = "OK done" } })
    assert.same({ 4 }, imap:search{ "SUBJECT", text, "UNSEEN" })
    assert.equal(SELECT_BYTES .. "A2 UID SEARCH CHARSET UTF-8 SUBJECT {" ..
      #text .. "}\r\n" .. text .. " UNSEEN\r\n", finish(imap, srv))
  end)
end)

describe("mailbox names", function()
  it("SELECT sends modified UTF-7", function()
    local imap, srv = start{ preauth(),
      { recv = "^A1 SELECT Entw&APw%-rfe\r\n$" },
      { send = "* 0 EXISTS\r\n" }, { reply = "OK [READ-WRITE] ok" } }
    local box = imap:select("Entw\195\188rfe")
    assert.equal("Entw\195\188rfe", box.name)
    assert.equal("A1 SELECT Entw&APw-rfe\r\n", finish(imap, srv))
  end)

  it("LIST names are decoded from modified UTF-7", function()
    local imap, srv = start{ preauth(), { recv = "^A1 LIST " },
      { send = '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n' ..
        '* LIST (\\Noselect) NIL "Top"\r\n' ..
        '* LIST () "." {6}\r\nA&-B C\r\n' },
      { reply = "OK done" } }
    local list = imap:list()
    assert.equal(3, #list)
    assert.equal("Entw\195\188rfe", list[1].name)
    assert.equal("/", list[1].delimiter)
    assert.same({ "\\HasNoChildren" }, list[1].flags)
    assert.equal("Top", list[2].name)
    assert.is_nil(list[2].delimiter)
    assert.equal("A&B C", list[3].name)
    assert.matches('^A1 LIST "" ', finish(imap, srv))
  end)
end)

describe("trace", function()
  it("hides the password and escapes control characters", function()
    local lines = {}
    local password = 'hunter2 "x"'
    local imap = start({
      { send = "* OK [CAPABILITY IMAP4rev1] hello \27[31mred\27[0m\r\n" },
      { recv = "LOGIN" }, { reply = "OK [CAPABILITY IMAP4rev1] in" },
      { recv = "NOOP" }, { send = "* OK bell\7 and \127 del\r\n" },
      { reply = "OK" } },
      { user = "alice", password = password,
        trace = function(dir, line) lines[#lines + 1] = { dir, line } end })
    imap:noop()
    local all, login = {}, nil
    for _, l in ipairs(lines) do
      all[#all + 1] = l[1] .. ": " .. l[2]
      if l[1] == "C" and l[2]:find("LOGIN") then login = l[2] end
    end
    local text = table.concat(all, "\n")
    assert.is_nil(text:find("hunter2", 1, true), text)
    assert.is_string(login)
    assert.matches("^A1 LOGIN alice %*%*%*$", login)
    assert.is_nil(text:find("[\0-\9\11-\31\127]"), text)
    assert.matches("\\x1b", text, 1, true)
    assert.matches("\\x07", text, 1, true)
    assert.matches("C: A2 NOOP", text, 1, true)
  end)
end)

describe("hostile or confused servers", function()
  it("a completion for a tag never sent is ignored, codes and all",
      function()
    local imap = start{ greet(), { recv = "^A1 NOOP" },
      { send = "A9 OK [CAPABILITY IMAP4rev1 MOVE] forged\r\n" },
      { reply = "OK" } }
    imap:noop()
    assert.is_nil(imap.capabilities.MOVE)
    assert.equal(0, imap.conn:held())
  end)

  it("a tagged BYE or PREAUTH is a protocol error", function()
    -- RFC 9051: a tagged response carries OK, NO or BAD only.
    local imap = start{ greet(), { recv = "^A1 NOOP" },
      { reply = "BYE not here" }, { drain = true } }
    assert.equal("protocol", err_of(imap.noop, imap).kind)
    imap = start{ greet(), { recv = "^A1 NOOP" },
      { reply = "PREAUTH not here" }, { drain = true } }
    assert.equal("protocol", err_of(imap.noop, imap).kind)
  end)

  it("a BYE instead of the literal continuation is an error of kind bye",
      function()
    local imap, srv = start{ greet(),
      { recv = "^A1 LOGIN", instead = "* BYE too slow\r\n" },
      { close = true } }
    local err = err_of(imap.login, imap, "alice", "p\195\164sswd")
    assert.equal("bye", err.kind)
    assert.equal("too slow", err.text)
    assert.equal("LOGOUT", imap:state())
    assert.equal("A1 LOGIN alice {7}\r\n", srv:log())
  end)

  it("message sets in responses that cannot be expanded are protocol errors",
      function()
    local imap = open_selected("IMAP4rev1 UIDPLUS ESEARCH", {
      { recv = "^A2 UID COPY" },
      { reply = "OK [COPYUID 1 1:4294967295 1:4294967295] all of them" },
      { recv = "^A3 UID SEARCH" },
      { send = '* ESEARCH (TAG "A3") UID ALL 1:*\r\n' }, { reply = "OK" },
      { recv = "^A4 APPEND" },
      { reply = "OK [APPENDUID 1 1:4294967295] huge" } })
    -- Too many UIDs break the per-command cap; "*" cannot be expanded.
    local err = err_of(imap.copy, imap, { 1 }, "Archive")
    assert.equal("limit", err.kind)
    assert.equal("protocol", err_of(imap.search, imap, "ALL").kind)
    assert.equal("limit", err_of(imap.append, imap, "X", "m").kind)
  end)

  it("more EXPUNGEs than messages leave exists at zero", function()
    local imap = start{ preauth(), { recv = "^A1 SELECT" },
      { send = "* 1 EXISTS\r\n" }, { reply = "OK [READ-WRITE] ok" },
      { recv = "^A2 NOOP" }, { send = "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n" },
      { reply = "OK" } }
    imap:select("INBOX")
    imap:noop()
    assert.equal(0, imap.mailbox.exists)
  end)

  it("a command can follow a timeout; the late reply is not mistaken",
      function()
    local imap, srv = start{ greet(), { recv = "^A1 NOOP" },
      { sleep = 0.6 }, { send = "* 9 EXISTS\r\n" }, { reply = "OK late" },
      { recv = "^A2 NOOP" }, { send = "* 10 EXISTS\r\n" },
      { reply = "OK" } }
    imap.conn:set_timeout(0.2)
    assert.equal("timeout", err_of(imap.noop, imap).kind)
    imap.conn:set_timeout(5)
    imap:noop()
    local exists = imap:response("EXISTS")
    assert.equal(10, exists[#exists].n)
    assert.equal("A1 NOOP\r\nA2 NOOP\r\n", finish(imap, srv))
    assert.equal("done", srv:status())
  end)
end)

describe("connection object", function()
  it("has a readable tostring", function()
    local imap = start{ greet(), { drain = true } }
    assert.matches("NONAUTH", tostring(imap))
    imap:shutdown()
    assert.matches("LOGOUT", tostring(imap))
  end)

  it("raises a usage error after close", function()
    local imap, srv = start{ greet(), { drain = true } }
    imap:shutdown()
    assert.equal("LOGOUT", imap:state())
    assert.equal("usage", err_of(imap.noop, imap).kind)
    assert.equal("usage", err_of(imap.capability, imap).kind)
    assert.equal("", srv:log())
    imap:shutdown() -- closing twice is fine
  end)

  it("logout accepts the BYE and ends in LOGOUT", function()
    local imap, srv = start{ greet(), { recv = "^A1 LOGOUT\r\n$" },
      { send = "* BYE see you\r\n" }, { reply = "OK bye" } }
    assert.is_true(imap:logout())
    assert.equal("LOGOUT", imap:state())
    assert.equal("A1 LOGOUT\r\n", srv:log())
    assert.equal("usage", err_of(imap.noop, imap).kind)
  end)

  it("a server that closes during LOGOUT is fine", function()
    local imap = start{ greet(), { recv = "^A1 LOGOUT\r\n$" },
      { send = "* BYE see you\r\n" }, { close = true } }
    assert.is_true(imap:logout())
  end)

  it("a timeout is an error of kind timeout", function()
    local imap = start{ greet(), { recv = "NOOP" }, { sleep = 1.5 },
      { reply = "OK" } }
    imap.conn:set_timeout(0.3)
    assert.equal("timeout", err_of(imap.noop, imap).kind)
  end)
  it("keeps several commands in flight and matches completions by tag", function()
    local imap, srv = start{ preauth(), { recv = "^A1 NOOP\r\n$" },
      { recv = "^A2 STATUS INBOX %(MESSAGES%)\r\n$" },
      { send = "* STATUS INBOX (MESSAGES 4)\r\nA2 OK status done\r\n" ..
        "A1 OK noop done\r\n" } }
    local t1 = imap:send("NOOP", nil, "NOOP")
    local t2 = imap:send("STATUS", { { mailbox = "INBOX" }, { "MESSAGES" } }, "STATUS")
    assert.equal(2, imap.conn:inflight())
    local r1, data1 = imap:wait(t1, "NOOP")
    assert.equal("noop done", r1.text)
    assert.equal(1, #data1) -- untagged data goes to the command waited for
    local r2 = imap:wait(t2, "STATUS")
    assert.equal("status done", r2.text)
    assert.equal(0, imap.conn:inflight())
    assert.equal("A1 NOOP\r\nA2 STATUS INBOX (MESSAGES)\r\n", finish(imap, srv))
  end)
  it("sends and reads mailbox names as UTF-8 after ENABLE UTF8=ACCEPT", function()
    local imap, srv = start{ preauth("IMAP4rev1 ENABLE UTF8=ACCEPT"),
      { recv = "^A1 ENABLE UTF8=ACCEPT\r\n$" },
      { send = "* ENABLED UTF8=ACCEPT\r\n" }, { reply = "OK enabled" },
      { recv = "^A2 SELECT \"Entw\195\188rfe\"\r\n$" },
      { send = "* 0 EXISTS\r\n" }, { reply = "OK [READ-WRITE] done" },
      { recv = "^A3 LIST \"\" \"%*\"\r\n$" },
      { send = "* LIST () \"/\" \"Entw\195\188rfe\"\r\n* LIST () \"/\" A&B\r\n" },
      { reply = "OK listed" } }
    assert.same({ "UTF8=ACCEPT" }, imap:enable("UTF8=ACCEPT"))
    assert.is_true(imap.utf8)
    imap:select("Entwürfe")
    local names = {}
    for _, box in ipairs(imap:list("", "*")) do names[#names + 1] = box.name end
    assert.same({ "Entwürfe", "A&B" }, names) -- no modified UTF-7 any more
    assert.equal("A1 ENABLE UTF8=ACCEPT\r\nA2 SELECT \"Entw\195\188rfe\"\r\n" ..
      "A3 LIST \"\" \"*\"\r\n", finish(imap, srv))
  end)
end)
