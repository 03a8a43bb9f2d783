-- spec/idle_spec.lua: imap:idle() (RFC 2177) against the private Dovecot,
-- with a second connection (another process) appending while the first
-- waits, the timeout, the refresh before the server's limit and the NOOP
-- fallback; and against the scripted fake server: refusals, BYE, the
-- exact bytes sent, a server ending the IDLE itself, and callback errors.

local imapsift = require "imapsift"
local server = require "support.server"
local fake = require "support.fake"
local util = require "support.util"

local USER = server.as(5) -- grace
local now = imapsift.core.monotonic

local recorder = util.recorder

local count = util.count

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- append_later(delay, subject) -> function that waits for the result.
-- Runs a second connection (as the same user) in another process, which
-- appends a message to INBOX after delay seconds: the only way for it to
-- act while this process is blocked in IDLE.
local function append_later(delay, subject)
  local status = util.tmpname()
  local script = util.tmpname() .. ".lua"
  util.write_file(script, ([[
package.path = %q
package.cpath = %q
local server = require "support.server"
server.as(5)
local ok, err = pcall(function()
  local imap = server.connect()
  server.append(imap, "INBOX", { { subject = %q } })
  imap:logout()
end)
local f = assert(io.open(%q, "w"))
f:write(ok and "ok" or tostring(err))
f:close()
]]):format(package.path, package.cpath, subject, status))
  os.execute(("(sleep %.2f; exec lua5.4 %s) >/dev/null 2>&1 &")
    :format(delay, shell_quote(script)))
  return function()
    local t0 = now()
    while now() - t0 < 20 do
      local got = util.read_file(status)
      if got then
        os.remove(status)
        os.remove(script)
        return got
      end
      os.execute("sleep 0.1")
    end
    return "the appending process did not finish"
  end
end

describe("idle against Dovecot", function()
  local imap

  before_each(function()
    server.reset()
  end)

  after_each(function()
    if imap then imap:shutdown() end
    imap = nil
  end)

  it("logs in as the spare user", function()
    imap = server.connect()
    assert.equal(USER, "grace")
    assert.is_true(imap.capabilities.IDLE)
  end)

  it("sees an APPEND made by another connection while idling", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    local before = imap:select("INBOX").exists
    local done = append_later(0.5, "arrives during IDLE")
    local seen = {}
    local t0 = now()
    local reason = imap:idle(15, function(r)
      seen[#seen + 1] = r
      return r.type == "EXISTS"
    end)
    assert.equal("ok", done())
    assert.equal("stopped", reason)
    assert.is_true(now() - t0 < 10)
    assert.equal("EXISTS", seen[#seen].type)
    assert.equal(before + 1, seen[#seen].n)
    assert.equal(before + 1, imap.mailbox.exists)
    assert.equal(1, count(lines, "^C: %S+ IDLE$"))
    assert.equal(1, count(lines, "^C: DONE$"))
    -- The connection is in a normal state again.
    local uids = imap:search{ "SUBJECT", "arrives during IDLE" }
    assert.equal(1, #uids)
  end)

  it("returns \"timeout\" after the timeout", function()
    imap = server.connect()
    imap:select("INBOX")
    local calls = 0
    local t0 = now()
    local reason = imap:idle(1, function() calls = calls + 1 end)
    local took = now() - t0
    assert.equal("timeout", reason)
    assert.is_true(took >= 0.95 and took < 3, "took " .. took)
    assert.equal(0, calls)
    assert.same({}, imap:noop())
  end)

  it("renews the IDLE every refresh seconds", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    imap:select("INBOX")
    local t0 = now()
    local reason = imap:idle(2.5, function() end, { refresh = 1 })
    local took = now() - t0
    assert.equal("timeout", reason)
    assert.is_true(took >= 2.4 and took < 5, "took " .. took)
    -- 0-1 s, 1-2 s, 2-2.5 s: three IDLE commands, each ended by DONE
    -- and completed by the server.
    assert.equal(3, count(lines, "^C: %S+ IDLE$"))
    assert.equal(3, count(lines, "^C: DONE$"))
    assert.equal(3, count(lines, "^S: %S+ OK Idle completed"))
  end)

  it("polls with NOOP when the server lacks IDLE", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    local before = imap:select("INBOX").exists
    imap.capabilities.IDLE = nil
    local done = append_later(0.7, "arrives while polling")
    local reason = imap:idle(15, function(r)
      return r.type == "EXISTS"
    end, { poll = 0.5 })
    assert.equal("ok", done())
    assert.equal("stopped", reason)
    assert.is_true(imap.mailbox.exists > before)
    assert.equal(1, #imap:search{ "SUBJECT", "arrives while polling" })
    assert.equal(0, count(lines, "^C: %S+ IDLE"))
    assert.is_true(count(lines, "^C: %S+ NOOP$") >= 2)
  end)

  it("polling returns \"timeout\" too", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    imap:select("INBOX")
    imap.capabilities.IDLE = nil
    local t0 = now()
    local reason = imap:idle(1.2, function() end, { poll = 0.5 })
    local took = now() - t0
    assert.equal("timeout", reason)
    assert.is_true(took >= 1.1 and took < 3, "took " .. took)
    -- At 0, 0.5 and 1.0 s, and a last one at the deadline.
    assert.is_true(count(lines, "^C: %S+ NOOP$") >= 3)
  end)

  it("refuses IDLE before login (usage), sending nothing", function()
    local lines, trace = recorder()
    imap = server.connect_anonymous{ trace = trace }
    local err = util.catch(imap.idle, imap, 1, function() end)
    assert.equal("usage", err.kind)
    assert.equal(0, count(lines, "^C: .*IDLE"))
  end)
end)

---------------------------------------------------------------------------

local CRLF = "\r\n"
local SELECTED = {
  { send = "* PREAUTH [CAPABILITY IMAP4rev1 IDLE] ready" .. CRLF },
  { recv = "^A1 SELECT INBOX\r\n$" },
  { send = "* 3 EXISTS\r\n* FLAGS (\\Seen)\r\nA1 OK [READ-WRITE] ok" ..
    CRLF },
}
local SELECT_BYTES = "A1 SELECT INBOX\r\n"

describe("idle against the fake server", function()
  local session = fake.session()

  -- start(steps after SELECT [, caps]) -> imap (INBOX selected), server
  local function start(steps, caps)
    local all = {}
    for _, s in ipairs(SELECTED) do all[#all + 1] = s end
    if caps then
      all[1] = { send = "* PREAUTH [CAPABILITY " .. caps .. "] ready" .. CRLF }
    end
    for _, s in ipairs(steps) do all[#all + 1] = s end
    local imap, srv = session:start(all)
    imap:select("INBOX")
    return imap, srv
  end

  -- What the client sent after the SELECT (the connection is closed
  -- first, so the log is complete).
  local function sent(imap, srv)
    imap:shutdown()
    local log = srv:log()
    assert.equal(SELECT_BYTES, log:sub(1, #SELECT_BYTES))
    return log:sub(#SELECT_BYTES + 1)
  end

  after_each(function() session:cleanup() end)

  it("sends exactly IDLE, then DONE when the callback stops", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "+ idling\r\n* 4 EXISTS\r\n* 1 RECENT\r\n" },
      { recv = "^DONE\r\n$" },
      { send = "* 5 EXISTS\r\nA2 OK IDLE terminated\r\n" },
      { drain = true } }
    local seen = {}
    local reason = imap:idle(5, function(r)
      seen[#seen + 1] = r.type .. " " .. r.n
      return r.type == "EXISTS"
    end)
    assert.equal("stopped", reason)
    -- Only what came before the stop reaches the callback; the rest
    -- still updates the mailbox.
    assert.same({ "EXISTS 4" }, seen)
    assert.equal(5, imap.mailbox.exists)
    assert.equal(1, imap.mailbox.recent)
    assert.equal("A2 IDLE\r\nDONE\r\n", sent(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("raises kind \"no\" when IDLE is refused", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "A2 NO [UNAVAILABLE] not now\r\n" },
      { recv = "^A3 NOOP\r\n$" }, { reply = "OK" }, { drain = true } }
    local err = util.catch(imap.idle, imap, 5, function() end)
    assert.equal("no", err.kind)
    assert.equal("UNAVAILABLE", err.code)
    assert.equal("IDLE", err.command)
    imap:noop() -- still usable
    assert.equal("A2 IDLE\r\nA3 NOOP\r\n", sent(imap, srv))
  end)

  it("raises kind \"bad\" when IDLE is rejected", function()
    local imap = start{
      { recv = "^A2 IDLE\r\n$" }, { send = "A2 BAD unknown command\r\n" },
      { drain = true } }
    local err = util.catch(imap.idle, imap, 5, function() end)
    assert.equal("bad", err.kind)
  end)

  it("raises kind \"bye\" when the server says BYE during IDLE", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "+ idling\r\n" }, { sleep = 0.2 },
      { send = "* BYE [UNAVAILABLE] shutting down\r\n" }, { close = true } }
    local calls = 0
    local err = util.catch(imap.idle, imap, 5, function() calls = calls + 1 end)
    assert.equal("bye", err.kind)
    assert.equal("UNAVAILABLE", err.code)
    assert.matches("shutting down", tostring(err))
    assert.equal(0, calls)
    assert.equal("LOGOUT", imap:state()) -- the link is dropped
    assert.equal("A2 IDLE\r\n", sent(imap, srv))
  end)

  it("raises kind \"bye\" when the server hangs up after BYE", function()
    local imap = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "+ idling\r\n* BYE going away\r\n" }, { close = true } }
    local err = util.catch(imap.idle, imap, 5, function() end)
    assert.equal("bye", err.kind)
  end)

  it("starts a new IDLE when the server ends one by itself", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "+ idling\r\nA2 OK timed out\r\n" },
      { recv = "^A3 IDLE\r\n$" },
      { send = "+ idling\r\n* 2 EXPUNGE\r\n" },
      { recv = "^DONE\r\n$" }, { send = "A3 OK done\r\n" },
      { drain = true } }
    local reason = imap:idle(5, function(r) return r.type == "EXPUNGE" end)
    assert.equal("stopped", reason)
    assert.equal(2, imap.mailbox.exists)
    assert.equal("A2 IDLE\r\nA3 IDLE\r\nDONE\r\n", sent(imap, srv))
  end)

  it("ends the IDLE before raising the callback's error", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "+ idling\r\n* 4 EXISTS\r\n" },
      { recv = "^DONE\r\n$" }, { send = "A2 OK done\r\n" },
      { recv = "^A3 NOOP\r\n$" }, { reply = "OK" }, { drain = true } }
    local ok, err = pcall(imap.idle, imap, 5, function()
      error("rule failed", 0)
    end)
    assert.is_false(ok)
    assert.equal("rule failed", err)
    imap:noop()
    assert.equal("A2 IDLE\r\nDONE\r\nA3 NOOP\r\n", sent(imap, srv))
  end)

  it("hands responses that came before \"+\" to the callback", function()
    local imap, srv = start{
      { recv = "^A2 IDLE\r\n$" },
      { send = "* 6 EXISTS\r\n+ idling\r\n" },
      { recv = "^DONE\r\n$" }, { send = "A2 OK done\r\n" },
      { drain = true } }
    local reason = imap:idle(5, function(r) return r.n == 6 end)
    assert.equal("stopped", reason)
    assert.equal(6, imap.mailbox.exists)
    assert.equal("A2 IDLE\r\nDONE\r\n", sent(imap, srv))
  end)

  it("polls with NOOP on a server without IDLE", function()
    local imap, srv = start({
      { recv = "^A2 NOOP\r\n$" }, { send = "A2 OK nothing\r\n" },
      { recv = "^A3 NOOP\r\n$" },
      { send = "* 4 EXISTS\r\nA3 OK new mail\r\n" },
      { drain = true } }, "IMAP4rev1")
    local reason = imap:idle(5, function(r)
      return r.type == "EXISTS"
    end, { poll = 0.2 })
    assert.equal("stopped", reason)
    assert.equal(4, imap.mailbox.exists)
    assert.equal("A2 NOOP\r\nA3 NOOP\r\n", sent(imap, srv))
  end)

  it("checks its arguments", function()
    local imap = start{ { drain = true } }
    for _, args in ipairs{
      { -1, function() end }, { "1", function() end }, { 1, nil },
      { 1, function() end, { refresh = 0 } },
      { 1, function() end, { poll = "x" } },
      { 1, function() end, 5 } } do
      local err = util.catch(imap.idle, imap, table.unpack(args, 1, 3))
      assert.equal("usage", err.kind)
      assert.equal("IDLE", err.command)
    end
  end)
end)
