-- spec/stream_spec.lua: the subprocess stream transport (command = ...)
-- with Dovecot's imap binary run preauthenticated for alice, and with
-- small shell commands that misbehave.

local imapsift = require "imapsift"
local server = require "support.server"

local util = require "support.util"
local catch = util.catch

-- Dovecot's imap binary writes log lines on stderr; keep them out of the
-- spec output, in the server's log directory.
local function dovecot_command()
  return server.dovecot_imap .. " 2>>" .. server.testdir ..
    "/log/stream-stderr.log"
end

local function now()
  local f = assert(io.popen("date +%s.%N"))
  local t = tonumber(f:read("a"))
  f:close()
  return t
end

local tmpname, read_file = util.tmpname, util.read_file

describe("the stream transport with Dovecot's imap binary", function()
  before_each(function() server.reset() end)

  it("starts in the authenticated state after a PREAUTH greeting",
      function()
    local imap = imapsift.connect{ command = server.dovecot_imap }
    assert.equal("AUTH", imap:state())
    assert.equal("PREAUTH", imap.greeting.status)
    -- The greeting's CAPABILITY code is the post-login set.
    assert.is_true(imap.capabilities.MOVE)
    assert.is_true(imap.capabilities.UIDPLUS)
    assert.is_nil(imap.capabilities.STARTTLS)
    assert.is_true(imap:logout())
    assert.equal("LOGOUT", imap:state())
  end)

  it("selects, appends, searches, fetches, stores and expunges",
      function()
    local imap = imapsift.connect{ command = dovecot_command() }
    local msg = server.message{ subject = "over the stream",
      headers = { "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit" },
      body = "Gr\xc3\xbc\xc3\x9fe\r\nA1 OK not the end\r\n* BYE not a bye\r\n" }
    local r = imap:append("INBOX", msg)
    assert.equal("integer", math.type(r.uid))
    local other = server.append(imap, "INBOX", { { subject = "second" } })[1]
    local box = imap:select("INBOX")
    assert.equal(2, box.exists)
    assert.equal(r.uidvalidity, box.uidvalidity)
    assert.same({ r.uid }, imap:search{ "SUBJECT", "stream" })
    assert.same({ r.uid }, imap:search{ "BODY", "Grüße" })
    local m = imap:fetch(r.uid, { "BODY.PEEK[]", "ENVELOPE", "RFC822.SIZE" })
    assert.equal(1, #m)
    assert.equal(msg, m[1].body[""])
    assert.equal(#msg, m[1].size)
    assert.equal("over the stream", m[1].envelope.subject)
    imap:store(other, "+FLAGS.SILENT", { "\\Deleted" })
    assert.same({ 2 }, imap:expunge())
    assert.same({ r.uid }, imap:search("ALL"))
    assert.is_true(imap:logout())
    assert.equal("LOGOUT", imap:state())
  end)

  it("carries a large message both ways without blocking", function()
    local imap = imapsift.connect{ command = dovecot_command() }
    local lines = {}
    for i = 1, 30000 do
      lines[i] = ("line %05d of a big message, padded to some length"):
        format(i)
    end
    local msg = server.message{ subject = "big",
      body = table.concat(lines, "\r\n") .. "\r\n" }
    assert.is_true(#msg > 1500000)
    local uid = imap:append("INBOX", msg).uid
    imap:select("INBOX")
    local m = imap:fetch(uid, { "BODY.PEEK[]" })[1]
    assert.equal(#msg, #m.body[""])
    assert.equal(msg, m.body[""])
    imap:logout()
  end)

  it("sees the same mailbox as the network server", function()
    local net = server.connect()
    local uid = server.append(net, "Archive", { { subject = "via TLS" } })[1]
    net:logout()
    local imap = imapsift.connect{ command = dovecot_command() }
    imap:select("Archive")
    local m = imap:fetch(uid, { "ENVELOPE" })[1]
    assert.equal("via TLS", m.envelope.subject)
    imap:logout()
  end)
end)

describe("the stream transport with misbehaving commands", function()
  it("fails with kind closed when the command exits at once", function()
    local t0 = now()
    local err = catch(imapsift.connect, { command = "true", timeout = 5 })
    assert.equal("closed", err.kind)
    assert.matches("greeting", err.command)
    assert.is_true(now() - t0 < 2)
  end)

  it("fails with kind closed when the command does not exist", function()
    local err = catch(imapsift.connect, {
      command = "exec ./no-such-imap-server 2>/dev/null", timeout = 5 })
    assert.equal("closed", err.kind)
  end)

  it("fails with kind timeout when the command never greets", function()
    local t0 = now()
    local err = catch(imapsift.connect, { command = "exec sleep 30",
      timeout = 1 })
    assert.equal("timeout", err.kind)
    -- One second of waiting, then at most the transport's grace period
    -- for the child to go (it is killed, not waited for 30 s).
    assert.is_true(now() - t0 < 6)
  end)

  it("reports a BYE greeting with kind bye", function()
    local err = catch(imapsift.connect, {
      command = "printf '* BYE [UNAVAILABLE] not today\\r\\n'" })
    assert.equal("bye", err.kind)
    assert.equal("UNAVAILABLE", err.code)
    assert.equal("not today", err.text)
  end)

  it("fails with kind closed when the command dies mid-session",
      function()
    local imap = imapsift.connect{ command =
      "printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\\r\\n'; read line" }
    assert.equal("AUTH", imap:state())
    local err = catch(imap.select, imap, "INBOX")
    assert.equal("closed", err.kind)
    assert.equal('SELECT "INBOX"', err.command)
    imap:shutdown()
  end)

  it("closes the command's pipes when connect fails", function()
    -- The command answers LOGIN with NO, then records when its input
    -- ends: connect must have closed the stream before raising.
    local flag = tmpname()
    local err = catch(imapsift.connect, {
      command = "printf '* OK ready\\r\\n'; read tag rest; " ..
        "printf '%s NO [AUTHENTICATIONFAILED] nope\\r\\n' \"$tag\"; " ..
        "cat >/dev/null; echo closed > " .. flag,
      user = "alice", password = "x", timeout = 5, secure = true })
    assert.equal("no", err.kind)
    assert.equal("AUTHENTICATIONFAILED", err.code)
    assert.equal("closed\n", read_file(flag))
    os.remove(flag)
  end)
end)

-- Dovecot's imap binary run preauthenticated for tina (spare user 18),
-- so that this block's mailboxes are its own.
local function tina_command()
  local cmd, users = server.dovecot_imap:gsub(" USER=alice ", " USER=tina ")
  local homes
  cmd, homes = cmd:gsub("/home/alice ", "/home/tina ")
  assert(users == 1 and homes == 1, "no alice to replace in DOVECOT_IMAP")
  return cmd .. " 2>>" .. server.testdir .. "/log/stream-stderr.log"
end

describe("a collected fetch over the stream transport", function()
  -- Over Lua's 40-byte short strings: the kept tables share one copy.
  local LONG = "HEADER.FIELDS (FROM SUBJECT TO CC DATE MESSAGE-ID)"

  it("keys every message's headers by the long section asked for",
      function()
    local imap = imapsift.connect{ command = tina_command() }
    require("imapsift.testing").empty_account(imap)
    local uids = server.fill(imap, "INBOX", 12, function(i)
      return { subject = "collected " .. i,
        to = ("to%d@example.org"):format(i) }
    end)
    imap:select("INBOX")
    local kept = imap:fetch(uids, { "FLAGS", "BODY.PEEK[" .. LONG .. "]" })
    assert.equal(12, #kept)
    for i, m in ipairs(kept) do
      assert.equal(uids[i], m.uid)
      local keys = {}
      for k in pairs(m.body) do keys[#keys + 1] = k end
      assert.same({ LONG }, keys)
      assert.matches("Subject: collected " .. i .. "\r\n", m.body[LONG],
        1, true)
      assert.matches(("To: to%d@example.org\r\n"):format(i), m.body[LONG],
        1, true)
    end
    -- Each message's flags are its own to change.
    local second = table.move(kept[2].flags, 1, #kept[2].flags, 1, {})
    kept[1].flags[#kept[1].flags + 1] = "$Mine"
    assert.same(second, kept[2].flags)
    imap:logout()
  end)
end)
