-- spec/reconnect_spec.lua: reconnect() restores the session (mailbox,
-- ENABLE, CONDSTORE, trace, interceptor, alert handler), survives a
-- failed attempt, reports a changed UIDVALIDITY and retries with capped
-- exponential backoff; backoff_delay's bounds. The fake server checks
-- the bytes of the new session; the private Dovecot the real thing.
local imapsift = require "imapsift"
local core = require "imapsift.core"
local fake = require "support.fake"
local server = require "support.server"
local util = require "support.util"

server.as(8) -- this file's own user
local catch = util.catch
local backoff_delay = imapsift.backoff_delay

local CRLF = "\r\n"
local session = fake.session()
after_each(function() session:cleanup() end)

local CAPS = "IMAP4rev1 ENABLE CONDSTORE UTF8=ACCEPT"

local function preauth()
  return { send = "* PREAUTH [CAPABILITY " .. CAPS .. "] hi" .. CRLF }
end

-- The SELECT answer of a mailbox with 3 messages and this UIDVALIDITY.
local function selected(uidvalidity, extra)
  return { send = "* 3 EXISTS" .. CRLF .. "* FLAGS (\\Seen)" .. CRLF ..
    "* OK [UIDVALIDITY " .. uidvalidity .. "] x" .. CRLF .. (extra or "") }
end

-- A session that selects INBOX (as tag tag) and then waits.
local function select_steps(tag, uidvalidity, condstore, extra)
  return { preauth(),
    { recv = "^" .. tag .. " SELECT INBOX" ..
      (condstore and " %(CONDSTORE%)" or "") .. "\r\n$" },
    selected(uidvalidity, extra), { reply = "OK [READ-WRITE] done" },
    { drain = true } }
end

-- A fake server for the next link: reconnect() runs opts.command again.
local function next_server(imap, steps)
  local srv = session:new(steps)
  imap.opts.command = srv:command()
  return srv
end

-- A command that exits at once: the attempt fails with kind "closed".
local DEAD = "exit 0"

describe("reconnect against the fake server", function()
  it("restores ENABLE, the CONDSTORE select, trace, interceptor and " ..
      "alert handler", function()
    local imap = session:start{ preauth(),
      { recv = "^A1 ENABLE CONDSTORE UTF8=ACCEPT\r\n$" },
      { send = "* ENABLED CONDSTORE UTF8=ACCEPT" .. CRLF },
      { reply = "OK enabled" },
      { recv = "^A2 SELECT INBOX %(CONDSTORE%)\r\n$" }, selected(42),
      { reply = "OK [READ-WRITE] done" }, { drain = true } }
    imap:enable("CONDSTORE", "UTF8=ACCEPT")
    imap:select("INBOX", { condstore = true })
    local lines, trace = util.recorder()
    imap:set_trace(trace)
    local alerts = {}
    imap.on_alert = function(text) alerts[#alerts + 1] = text end
    local seen = {}
    local function intercept(info) seen[#seen + 1] = info.command end
    imap.intercept = intercept

    local srv = next_server(imap, { preauth(),
      { recv = "^A1 ENABLE CONDSTORE UTF8=ACCEPT\r\n$" },
      { send = "* ENABLED CONDSTORE UTF8=ACCEPT" .. CRLF },
      { reply = "OK enabled" },
      { recv = "^A2 SELECT INBOX %(CONDSTORE%)\r\n$" },
      selected(42, "* OK [ALERT] back again" .. CRLF),
      { reply = "OK [READ-WRITE] done" }, { drain = true } })
    assert.equal(imap, imap:reconnect())
    assert.equal("SELECTED", imap:state())
    assert.is_true(imap.mailbox.condstore)
    assert.is_true(imap.utf8)
    assert.is_false(imap.uidvalidity_changed)
    assert.equal("back again", alerts[1])
    assert.equal(1, util.count(lines, "^C: A1 ENABLE CONDSTORE UTF8=ACCEPT$"))
    assert.equal(intercept, imap.intercept)
    imap:create("Nope") -- intercepted: never reaches the server
    assert.same({ "CREATE" }, seen)
    assert.equal("A1 ENABLE CONDSTORE UTF8=ACCEPT\r\n" ..
      "A2 SELECT INBOX (CONDSTORE)\r\n", session.finish(imap, srv))
  end)

  it("works after the link was dropped under it", function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    imap.conn:close()
    assert.has_error(function() imap:noop() end)
    local srv = next_server(imap, select_steps("A1", 42))
    imap:reconnect()
    assert.equal("SELECTED", imap:state())
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal("A1 SELECT INBOX\r\n", session.finish(imap, srv))
  end)

  it("works again after a failed attempt, still re-selecting the mailbox",
      function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    imap.opts.command = DEAD
    local err = catch(imap.reconnect, imap)
    assert.equal("closed", err.kind)
    assert.equal("LOGOUT", imap:state())
    assert.is_nil(imap.mailbox)
    catch(imap.reconnect, imap) -- fails again: nothing is lost
    local srv = next_server(imap, select_steps("A1", 42))
    imap:reconnect()
    assert.equal("SELECTED", imap:state())
    assert.equal("INBOX", imap.mailbox.name)
    assert.is_false(imap.uidvalidity_changed)
    assert.equal("A1 SELECT INBOX\r\n", session.finish(imap, srv))
  end)

  it("a failed SELECT leaves the object closed, to be tried again",
      function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    next_server(imap, { preauth(), { recv = "^A1 SELECT INBOX\r\n$" },
      { reply = "NO [UNAVAILABLE] try later" }, { drain = true } })
    local err = catch(imap.reconnect, imap)
    assert.equal("no", err.kind)
    assert.equal("LOGOUT", imap:state())
    local srv = next_server(imap, select_steps("A1", 42))
    imap:reconnect()
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal("A1 SELECT INBOX\r\n", session.finish(imap, srv))
  end)

  it("raises kind uidvalidity when the mailbox's UIDVALIDITY changed",
      function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    next_server(imap, select_steps("A1", 43))
    local err = catch(imap.reconnect, imap)
    assert.equal("uidvalidity", err.kind)
    assert.equal("INBOX", err.mailbox)
    assert.equal(42, err.old)
    assert.equal(43, err.new)
    assert.matches("changed from 42 to 43", tostring(err), 1, true)
    -- The session is usable, with the mailbox as it is now.
    assert.equal("SELECTED", imap:state())
    assert.equal(43, imap.mailbox.uidvalidity)
    assert.same({ old = 42, new = 43 }, imap.uidvalidity_changed)
  end)

  it("reports a changed UIDVALIDITY with on_uidvalidity = \"report\"",
      function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    next_server(imap, select_steps("A1", 7))
    assert.equal(imap, imap:reconnect{ on_uidvalidity = "report" })
    assert.same({ old = 42, new = 7 }, imap.uidvalidity_changed)
    assert.equal(7, imap.mailbox.uidvalidity)
  end)

  it("retries with backoff until an attempt succeeds", function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    imap.opts.command = DEAD
    local delays, srv = {}, nil
    local function sleep(d)
      delays[#delays + 1] = d
      if #delays == 2 then srv = next_server(imap, select_steps("A1", 42)) end
    end
    imap:reconnect{ retries = 5, base = 0.5, cap = 1, sleep = sleep,
      random = function() return 0.5 end }
    -- step 0.5 then 1 (capped), each 3/4 of its step at random = 0.5
    assert.same({ 0.375, 0.75 }, delays)
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal("A1 SELECT INBOX\r\n", session.finish(imap, srv))
  end)

  it("gives up after retries attempts with the last error", function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    imap.opts.command = DEAD
    local slept = 0
    local err = catch(imap.reconnect, imap, { retries = 2, base = 1,
      sleep = function() slept = slept + 1 end })
    assert.equal("closed", err.kind)
    assert.equal(2, slept)
    -- the default sleep (core.sleep) between real attempts
    err = catch(imap.reconnect, imap, { retries = 1, base = 0.01 })
    assert.equal("closed", err.kind)
  end)

  it("does not retry what another attempt cannot cure", function()
    local imap = session:start(select_steps("A1", 42))
    imap:select("INBOX")
    next_server(imap, { preauth(), { recv = "^A1 SELECT INBOX\r\n$" },
      { reply = "NO [NONEXISTENT] gone" }, { drain = true } })
    local slept = 0
    local err = catch(imap.reconnect, imap, { retries = 3,
      sleep = function() slept = slept + 1 end })
    assert.equal("no", err.kind)
    assert.equal("NONEXISTENT", err.code)
    assert.equal(0, slept)
  end)

  it("checks its options", function()
    local imap = session:start{ preauth(), { drain = true } }
    for _, o in ipairs{ { retries = -1 }, { retries = 1.5 },
        { on_uidvalidity = "ignore" }, { sleep = 3 }, { base = 0 },
        { base = 2, cap = 1 } } do
      assert.equal("usage", catch(imap.reconnect, imap, o).kind)
    end
    assert.equal("usage", catch(imap.reconnect, imap, "fast").kind)
    assert.equal("AUTH", imap:state()) -- untouched: still connected
  end)
end)

describe("backoff_delay", function()
  local function lowest() return 0 end
  local function highest() return 1 end

  it("grows exponentially from base, each delay in [step/2, step]",
      function()
    for attempt = 1, 8 do
      local step = 2 * 2 ^ (attempt - 1)
      assert.equal(step / 2, backoff_delay(attempt, 2, 1e6, lowest))
      assert.equal(step, backoff_delay(attempt, 2, 1e6, highest))
    end
  end)

  it("never exceeds cap, however many attempts", function()
    for _, attempt in ipairs{ 10, 11, 64, 1024, math.maxinteger } do
      assert.equal(300, backoff_delay(attempt, 1, 300, highest))
      assert.equal(150, backoff_delay(attempt, 1, 300, lowest))
    end
  end)

  it("spreads retries with jitter (default: math.random)", function()
    local seen = {}
    for _ = 1, 200 do
      local d = backoff_delay(5, 1, 300)
      assert.is_true(d >= 8 and d <= 16)
      seen[d] = true
    end
    local distinct = 0
    for _ in pairs(seen) do distinct = distinct + 1 end
    assert.is_true(distinct > 100)
    assert.equal(12, backoff_delay(5, 1, 300, function() return 0.5 end))
  end)

  it("refuses bad arguments with kind usage", function()
    local bad = { { 0, 1, 2 }, { 1.5, 1, 2 }, { 1, 0, 2 }, { 1, -1, 2 },
      { 1, 0 / 0, 2 }, { 1, 2, 1 }, { 1, 1, math.huge }, { "1", 1, 2 } }
    for _, a in ipairs(bad) do
      assert.equal("usage", catch(backoff_delay, a[1], a[2], a[3]).kind)
    end
    assert.equal("usage", catch(backoff_delay, 1, 1, 2,
      function() return 2 end).kind)
  end)

  it("core.sleep takes seconds and refuses nonsense", function()
    core.sleep(0)
    core.sleep(0.001)
    assert.has_error(function() core.sleep(-1) end)
    assert.has_error(function() core.sleep(0 / 0) end)
  end)
end)

describe("reconnect against Dovecot", function()
  local imap
  after_each(function() if imap then imap:shutdown() end end)

  it("works again after an attempt at a port where nothing listens",
      function()
    imap = server.connect()
    server.reset(imap)
    server.fill(imap, "INBOX", 2)
    imap:enable("CONDSTORE")
    local before = imap:select("INBOX")
    local good = imap.opts.port
    imap.opts.port = 1 -- nothing listens there
    assert.equal("connect", catch(imap.reconnect, imap).kind)
    assert.equal("LOGOUT", imap:state())
    imap.opts.port = good
    local lines, trace = util.recorder()
    imap:set_trace(trace)
    imap:reconnect()
    assert.equal("SELECTED", imap:state())
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal(before.uidvalidity, imap.mailbox.uidvalidity)
    assert.is_false(imap.uidvalidity_changed)
    assert.equal(1, util.count(lines, "^C: A%d+ ENABLE CONDSTORE$"))
    assert.equal(2, #imap:search{ "ALL" })
  end)

  it("raises kind uidvalidity when the mailbox was made anew", function()
    imap = server.connect()
    server.reset(imap)
    imap:create("Again")
    local old = imap:select("Again").uidvalidity
    local other = server.connect()
    other:delete("Again")
    other:create("Again")
    local new = other:status("Again", { "UIDVALIDITY" }).uidvalidity
    other:logout()
    assert.are_not.equal(old, new)
    local err = catch(imap.reconnect, imap)
    assert.equal("uidvalidity", err.kind)
    assert.equal("Again", err.mailbox)
    assert.same({ old, new }, { err.old, err.new })
    assert.equal(new, imap.mailbox.uidvalidity)
  end)
end)
