-- spec/fake_watch_spec.lua: Watchers (imapsift.watch) against the
-- scripted fake server: NOOP polling where IDLE is missing, a server that
-- drops the link (logged, reconnected after backoff, news still seen),
-- the IDLE renewed after `refresh`, and the options checked.

local watch = require "imapsift.watch"
local fake = require "support.fake"
local util = require "support.util"

local CRLF = "\r\n"

local function preauth(caps)
  return { send = "* PREAUTH [CAPABILITY IMAP4rev1" .. (caps or "") ..
    "] ready" .. CRLF }
end

-- EXAMINE INBOX (tag) answered with n messages and UIDNEXT (n + 1 when
-- not given).
local function examine(tag, n, uidnext)
  return { recv = "^" .. tag .. " EXAMINE INBOX\r\n$" },
    { send = ("* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" ..
      "* OK [UIDNEXT %d] ok\r\n"):format(n, uidnext or n + 1) },
    { reply = "OK [READ-ONLY] done" }
end

-- The end of a session as close() makes it: DONE for the IDLE of tag
-- idle (none when nil), then LOGOUT (tag logout).
local function ending(idle, logout)
  local out = {}
  if idle then
    out[1] = { recv = "^DONE\r\n$" }
    out[2] = { send = idle .. " OK IDLE done" .. CRLF }
  end
  out[#out + 1] = { recv = "^" .. logout .. " LOGOUT\r\n$" }
  out[#out + 1] = { send = "* BYE logging out" .. CRLF }
  out[#out + 1] = { reply = "OK bye" }
  return out
end

local function steps(...)
  local out = {}
  for _, part in ipairs{ ... } do
    for _, s in ipairs(part) do out[#out + 1] = s end
  end
  return out
end

-- The warnings among logged lines.
local function logged_warnings(lines)
  local out = {}
  for _, l in ipairs(lines) do
    if l:find("^warn: ") then out[#out + 1] = l end
  end
  return out
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

describe("Watchers against a fake server", function()
  local servers, ws, logged

  local function new_server(list)
    local srv = fake.new(list)
    servers[#servers + 1] = srv
    return srv
  end

  -- request(opts) -> a request as watch.requests() gives it.
  local function request(opts, name)
    return { account = name or "fake", mailbox = "INBOX", opts = opts }
  end

  -- A command that runs the i-th of stages (shell commands) the i-th
  -- time it is run, the last one from then on: one fake server per
  -- connection, as a reconnect makes a new one.
  local function staged(stages)
    local counter = util.tmpname()
    servers.flags[#servers.flags + 1] = counter
    local cases = {}
    for i, cmd in ipairs(stages) do
      cases[i] = (i == #stages and "*" or tostring(i)) .. ") " .. cmd .. ";;"
    end
    return ("n=$(($(cat %s 2>/dev/null || echo 0) + 1)); echo $n > %s; " ..
      "case $n in %s esac"):format(shell_quote(counter),
      shell_quote(counter), table.concat(cases, " "))
  end

  local function first_then(first, second)
    return staged{ first:command(), second:command() }
  end

  local function watchers(o)
    o = o or {}
    o.log = function(level, text) logged[#logged + 1] = level .. ": " .. text end
    ws = watch.new(o)
    return ws
  end

  -- Waits up to 30 s for pred(), letting the watchers work meanwhile.
  local function wait_until(pred)
    local t0 = os.time()
    while not pred() and os.time() - t0 < 30 do ws:wait(0.2) end
    return pred()
  end

  before_each(function()
    servers, logged = { flags = {} }, {}
  end)

  after_each(function()
    if ws then ws:close() end
    ws = nil
    for _, s in ipairs(servers) do s:cleanup() end
    for _, f in ipairs(servers.flags) do os.remove(f) end
  end)

  it("polls with NOOP where IDLE is missing, and sees new mail", function()
    local srv = new_server(steps({ preauth() }, { examine("A1", 2) }, {
      { recv = "^A2 NOOP\r\n$" }, { reply = "OK nothing" },
      { recv = "^A3 NOOP\r\n$" }, { send = "* 3 EXISTS" .. CRLF },
      { reply = "OK news" } }, ending(nil, "A4")))
    watchers{ poll = 0.1 }
    -- The same mailbox asked twice is watched once.
    ws:update{ request(srv:options()), request(srv:options()) }
    assert.equal(1, ws:count())
    local news = ws:wait(30)
    assert.same({ { account = "fake", mailbox = "INBOX" } }, news)
    ws:close()
    local lines = srv:lines()
    assert.equal("A1 EXAMINE INBOX", lines[1])
    assert.equal("A2 NOOP", lines[2])
    assert.equal("A3 NOOP", lines[3])
    assert.equal(0, util.count(lines, "IDLE"))
    assert.equal("A4 LOGOUT", lines[4])
    assert.equal("done", srv:status())
  end)

  it("renews the IDLE after refresh: DONE, then IDLE again", function()
    local srv = new_server(steps({ preauth(" IDLE") }, { examine("A1", 2) },
      { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
        { recv = "^DONE\r\n$" }, { send = "A2 OK IDLE done" .. CRLF },
        { recv = "^A3 IDLE\r\n$" }, { send = "+ idling" .. CRLF } },
      ending("A3", "A4")))
    watchers{ refresh = 1 }
    ws:update{ request(srv:options()) }
    assert.is_true(wait_until(function()
      return util.count(srv:lines(), "^A3 IDLE$") == 1
    end))
    ws:close()
    local lines = srv:lines()
    assert.same({ "A1 EXAMINE INBOX", "A2 IDLE", "DONE", "A3 IDLE",
      "DONE", "A4 LOGOUT" }, lines)
    assert.equal("done", srv:status())
    assert.same({}, logged_warnings(logged))
  end)

  it("reports mail that came while the link was down, after a BYE",
    function()
      local first = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 2) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
          { send = "* BYE shutting down" .. CRLF }, { close = true } }))
      local second = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 3) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF } },
        ending("A2", "A3")))
      watchers{ backoff_base = 0.1 }
      ws:update{ request({ command = first_then(first, second),
        timeout = 5, secure = true }) }
      local news = ws:wait(30)
      assert.same({ { account = "fake", mailbox = "INBOX" } }, news)
      local warns = logged_warnings(logged)
      assert.equal(1, #warns)
      assert.matches("^warn: fake: INBOX: watching failed: .*BYE.*" ..
        "shutting down; retrying in [%d.]+ s$", warns[1])
    end)

  it("reconnects after the server closed the link, and still sees news",
    function()
      local first = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 2) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
          { close = true } }))
      local second = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 2) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
          { sleep = 0.5 }, { send = "* 3 EXISTS" .. CRLF } },
        ending("A2", "A3")))
      watchers{ backoff_base = 0.1 }
      ws:update{ request({ command = first_then(first, second),
        timeout = 5, secure = true }) }
      local news = ws:wait(30)
      assert.same({ { account = "fake", mailbox = "INBOX" } }, news)
      assert.equal(1, #logged_warnings(logged))
      assert.matches("watching failed", logged_warnings(logged)[1])
      assert.equal("done", first:status())
      assert.same({ "A1 EXAMINE INBOX", "A2 IDLE" }, second:lines())
    end)

  it("reports mail that came and went while the link was down (UIDNEXT)",
    function()
      local first = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 2, 3) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
          { close = true } }))
      local second = new_server(steps({ preauth(" IDLE") },
        { examine("A1", 2, 5) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF } },
        ending("A2", "A3")))
      watchers{ backoff_base = 0.1 }
      ws:update{ request({ command = first_then(first, second),
        timeout = 5, secure = true }) }
      assert.same({ { account = "fake", mailbox = "INBOX" } }, ws:wait(30))
      assert.same({}, ws:wait(0.2))
    end)

  it("polls with NOOP when the server refuses IDLE", function()
    local srv = new_server(steps({ preauth(" IDLE") }, { examine("A1", 2) },
      { { recv = "^A2 IDLE\r\n$" }, { reply = "NO not today" },
        { recv = "^A3 NOOP\r\n$" }, { send = "* 3 EXISTS" .. CRLF },
        { reply = "OK" } }, ending(nil, "A4")))
    watchers{ poll = 0.1 }
    ws:update{ request(srv:options()) }
    assert.same({ { account = "fake", mailbox = "INBOX" } }, ws:wait(30))
    ws:close()
    assert.equal("done", srv:status())
    local warns = logged_warnings(logged)
    assert.equal(1, #warns)
    assert.matches("IDLE refused %(.*not today%); polling with NOOP every " ..
      "0.1 s", warns[1])
  end)

  it("backs off exponentially, and starts over after a success",
    function()
      local ok = new_server(steps({ preauth(" IDLE") }, { examine("A1", 2) },
        { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF },
          { close = true } }))
      -- random() = 1: no jitter, the full step each time.
      watchers{ backoff_base = 0.2, random = function() return 1 end }
      ws:update{ request({ command = staged{ "exit 0", "exit 0",
        ok:command(), "exit 0" }, timeout = 5, secure = true }) }
      assert.is_true(wait_until(function()
        return #logged_warnings(logged) >= 5
      end))
      local delays = {}
      for i, l in ipairs(logged_warnings(logged)) do
        delays[i] = l:match("retrying in ([%d.]+) s$")
      end
      assert.same({ "0.2", "0.4", "0.2", "0.4", "0.8" },
        { table.unpack(delays, 1, 5) })
      assert.equal("done", ok:status())
    end)

  it("returns at once, signaled, when a signal arrives", function()
    local core = require "imapsift.core"
    local srv = new_server(steps({ preauth(" IDLE") }, { examine("A1", 2) },
      { { recv = "^A2 IDLE\r\n$" }, { send = "+ idling" .. CRLF } },
      ending("A2", "A3")))
    watchers()
    ws:update{ request(srv:options()) }
    core.signals_install()
    core.signals_take()
    -- The shell's parent is this process.
    os.execute("kill -USR1 $PPID")
    local news, signaled = ws:wait(30)
    assert.same({}, news)
    assert.is_true(signaled)
    assert.is_true(core.signals_take().USR1)
    news, signaled = ws:wait(0.2)
    assert.same({}, news)
    assert.is_false(signaled)
  end)

  it("raises for bad options, not for connection trouble", function()
    assert.equal("usage", util.catch(watch.new, { poll = -1 }).kind)
    assert.equal("usage", util.catch(watch.new, { log = 3 }).kind)
    watchers{ backoff_cap = 2 }
    assert.equal("usage", util.catch(ws.update, ws, "INBOX").kind)
    assert.equal("usage", util.catch(ws.wait, ws, -1).kind)
    ws:update{ request({ command = "exit 0", timeout = 5, secure = true }) }
    assert.same({}, ws:wait(0.2))
    assert.matches("^warn: fake: INBOX: watching failed: .*; retrying " ..
      "in [%d.]+ s$", logged_warnings(logged)[1])
  end)
end)
