-- Specs for the commands in flight (c/session.c, c/conn.c, c/queue.c and
-- Connection:wait/send in imapsift.connection) against the scripted fake
-- server: every reply reaches the command it belongs to, a command given
-- up on never hands its late data to another, pipelined commands are
-- matched by tag, what a server sends is bounded, and the connection
-- cannot be used from inside its own callbacks.
local fake = require "support.fake"
local util = require "support.util"

local session = fake.session()
local function start(steps, extra) return session:start(steps, extra) end
local err_of = util.catch
local finish = session.finish

local function preauth(caps)
  return { send = "* PREAUTH [CAPABILITY " .. (caps or "IMAP4rev1") ..
    "] logged in already\r\n" }
end

-- PREAUTH, then SELECT INBOX (tag A1) with 3 messages.
local function selected(more, caps)
  local steps = { preauth(caps), { recv = "^A1 SELECT INBOX\r\n$" },
    { send = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" },
    { reply = "OK [READ-WRITE] selected" } }
  for _, s in ipairs(more) do steps[#steps + 1] = s end
  return steps
end

local function open_selected(more, extra, caps)
  local imap, srv = start(selected(more, caps), extra)
  imap:select("INBOX")
  return imap, srv
end

after_each(function() session:cleanup() end)

describe("a command given up on", function()
  it("never hands its late results to the next search", function()
    local imap, srv = open_selected{
      { recv = "^A2 UID SEARCH FROM \"?a\"?\r\n$" }, { sleep = 0.8 },
      { send = "* SEARCH 1 2 3\r\n" }, { reply = "OK late" },
      { recv = "^A3 UID SEARCH FROM \"?b\"?\r\n$" },
      { send = "* SEARCH 7\r\n" }, { reply = "OK" } }
    imap.conn:set_timeout(0.2)
    assert.equal("timeout", err_of(imap.search, imap, { "FROM", "a" }).kind)
    imap.conn:set_timeout(5)
    assert.same({ 7 }, imap:search{ "FROM", "b" })
    assert.equal(0, imap.conn:abandoned())
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("keeps the mailbox changes its late data brings", function()
    local imap = open_selected{
      { recv = "^A2 NOOP" }, { sleep = 0.8 },
      { send = "* 5 EXISTS\r\n" }, { reply = "OK late" },
      { recv = "^A3 NOOP" }, { reply = "OK" } }
    imap.conn:set_timeout(0.2)
    assert.equal("timeout", err_of(imap.noop, imap).kind)
    imap.conn:set_timeout(5)
    imap:noop()
    assert.equal(5, imap.mailbox.exists)
  end)

  it("after an error in a fetch callback, the next fetch gets only its own",
      function()
    local imap, srv = open_selected{
      { recv = "^A2 UID FETCH 1:3 %(FLAGS%)\r\n$" },
      { send = "* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n" ..
        "* 3 FETCH (UID 3 FLAGS ())\r\n" }, { reply = "OK" },
      { recv = "^A3 UID FETCH 9 %(FLAGS%)\r\n$" },
      { send = "* 3 FETCH (UID 9 FLAGS (\\Seen))\r\n" }, { reply = "OK" } }
    local ok, err = pcall(imap.fetch, imap, "1:3", { "FLAGS" },
      { each = function() error("callback failed", 0) end })
    assert.is_false(ok)
    assert.equal("callback failed", err) -- the script's own error, as is
    local got = imap:fetch({ 9 }, { "FLAGS" })
    assert.equal(1, #got)
    assert.equal(9, got[1].uid)
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("drops the connection when the server never completes it", function()
    local imap = open_selected({ { recv = "^A2 NOOP" }, { sleep = 3 } },
      { command_timeout = 0.6 })
    imap.conn:set_timeout(0.2)
    assert.equal("timeout", err_of(imap.noop, imap).kind)
    local err = err_of(imap.noop, imap)
    assert.equal("closed", err.kind)
    assert.equal("closed", err_of(imap.noop, imap).kind)
  end)
end)

describe("after the link is lost", function()
  -- Each connect runs the fake anew, so a reconnection meets the same
  -- script: a NOOP answered, then BYE and the end of the link.
  local function bye_after_noop()
    return { preauth(), { recv = "^A1 NOOP" }, { reply = "OK" },
      { send = "* BYE going away\r\n" }, { close = true } }
  end

  it("the next call raises closed", function()
    local imap = start(bye_after_noop())
    imap:noop()
    local err = err_of(imap.noop, imap)
    assert.is_true(err.kind == "bye" or err.kind == "closed", err.kind)
    err = err_of(imap.noop, imap)
    assert.equal("closed", err.kind)
    assert.matches("going away", err.text)
  end)

  it("reconnects first when the caller asked for it", function()
    local imap = start(bye_after_noop(), { reconnect = true })
    imap:noop()
    err_of(imap.noop, imap)
    assert.equal("LOGOUT", imap:state())
    assert.is_table(imap:noop()) -- a new link, a new fake
    assert.equal("AUTH", imap:state())
    assert.is_false(imap.conn:closed())
  end)

  it("reconnect must be a boolean or a table", function()
    local err = err_of(require("imapsift").connect,
      { command = "true", reconnect = "yes" })
    assert.equal("usage", err.kind)
  end)
end)

describe("tags", function()
  it("ignores (and traces) a completion for a tag never sent", function()
    local lines = {}
    local imap = start({ preauth(), { recv = "^A1 NOOP" },
      { send = "ZZ9 OK stray\r\n* 1 EXISTS\r\n" }, { reply = "OK real" } },
      { trace = function(dir, line) lines[#lines + 1] = dir .. " " .. line end })
    local tagged = imap:noop()
    assert.is_table(tagged)
    local seen
    for _, l in ipairs(lines) do
      if l:find("ZZ9 OK", 1, true) then seen = true end
    end
    assert.is_true(seen)
  end)

  it("never takes a reply for a tag not sent yet as that command's",
      function()
    local imap, srv = start{ preauth(),
      { recv = "^A1 APPEND INBOX {5}\r\nhello\r\n$",
        cont = "A2 OK guessed\r\n+ go" },
      { reply = "OK appended" },
      { recv = "^A2 NOOP\r\n$" }, { sleep = 0.3 }, { reply = "OK real" } }
    assert.is_true(imap:append("INBOX", "hello"))
    local tagged = imap:run("NOOP", nil, "NOOP")
    assert.equal("real", tagged.text)
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("an OK before the literal was sent is a protocol error", function()
    local imap = start{ preauth(),
      { recv = "^A1 APPEND INBOX {5}\r\n", instead = "A1 OK too early\r\n" },
      { drain = true } }
    local err = err_of(imap.append, imap, "INBOX", "hello")
    assert.equal("protocol", err.kind)
  end)
end)

describe("pipelining", function()
  it("sends the pieces of a long UID set before waiting for replies",
      function()
    local uids = {}
    for i = 1, 200 do uids[i] = i * 2 end
    local imap, srv = open_selected({
      { recv = "^A2 UID FETCH [%d,]+ %(FLAGS%)\r\n$" },
      { recv = "^A3 UID FETCH [%d,]+ %(FLAGS%)\r\n$" },
      { send = "* 1 FETCH (UID 2 FLAGS ())\r\nA2 OK\r\n" ..
        "* 2 FETCH (UID 400 FLAGS ())\r\nA3 OK\r\n" } },
      { max_line = 700 })
    local got = imap:fetch(uids, { "FLAGS" })
    assert.equal(2, #got)
    assert.equal(2, got[1].uid)
    assert.equal(400, got[2].uid)
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("sends the pieces of a search over a long UID set before waiting",
      function()
    local uids = {}
    for i = 1, 200 do uids[i] = i * 2 end
    local imap, srv = open_selected({
      { recv = "^A2 UID SEARCH UID [%d,]+ SUBJECT \"?x\"?\r\n$" },
      { recv = "^A3 UID SEARCH UID [%d,]+ SUBJECT \"?x\"?\r\n$" },
      { send = "* SEARCH 400\r\nA3 OK\r\n* SEARCH 2 4\r\nA2 OK\r\n" } },
      { max_line = 700 })
    assert.same({ 2, 4, 400 }, imap:search{ "UID", uids, "SUBJECT", "x" })
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("fails a split search with its refused piece's error", function()
    local uids = {}
    for i = 1, 200 do uids[i] = i * 2 end
    local imap, srv = open_selected({
      { recv = "^A2 UID SEARCH UID [%d,]+ SUBJECT \"?x\"?\r\n$" },
      { recv = "^A3 UID SEARCH UID [%d,]+ SUBJECT \"?x\"?\r\n$" },
      { send = "* SEARCH 2\r\nA2 OK\r\nA3 NO [LIMIT] too many\r\n" } },
      { max_line = 700 })
    local ok, err = pcall(imap.search, imap, { "UID", uids, "SUBJECT", "x" })
    assert.is_false(ok)
    assert.equal("no", err.kind)
    assert.equal("LIMIT", err.code)
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("matches ESEARCH results to their command by tag", function()
    local imap, srv = open_selected({
      { recv = "^A2 UID SEARCH RETURN %(ALL%) SEEN\r\n$" },
      { recv = "^A3 UID SEARCH RETURN %(ALL%) UNSEEN\r\n$" },
      { send = '* ESEARCH (TAG "A3") UID ALL 5:6\r\nA3 OK\r\n' ..
        '* ESEARCH (TAG "A2") UID ALL 3\r\nA2 OK\r\n' } },
      nil, "IMAP4rev1 ESEARCH")
    local out = imap:pipeline{
      { "UID SEARCH", { "RETURN", { "ALL" }, "SEEN" } },
      { "UID SEARCH", { "RETURN", { "ALL" }, "UNSEEN" } } }
    assert.equal("3", out[1][2][1].all)
    assert.equal("5:6", out[2][2][1].all)
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("bounds", function()
  it("folds a flood of mailbox updates instead of keeping it", function()
    local flood = {}
    for i = 1, 5000 do flood[i] = ("* %d EXISTS\r\n"):format(i) end
    local imap = open_selected({ { recv = "^A2 NOOP" },
      { send = table.concat(flood) }, { reply = "OK" } },
      { limits = { max_kept = 100 } })
    local data = imap:noop()
    assert.equal(0, #data)
    assert.equal(5000, imap.mailbox.exists)
    assert.is_true(#imap:response("EXISTS") <= 100)
  end)

  it("keeps Lua's memory flat under a flood of 200,000 updates", function()
    local flood = {}
    for i = 1, 100000 do
      flood[#flood + 1] = ("* %d FETCH (FLAGS (\\Seen))\r\n"):format(i)
      flood[#flood + 1] = ("* %d EXISTS\r\n"):format(i)
    end
    local imap = open_selected{ { recv = "^A2 NOOP" },
      { send = table.concat(flood) }, { reply = "OK" } }
    flood = nil -- luacheck: ignore 311
    collectgarbage()
    local before = collectgarbage("count")
    imap:noop()
    collectgarbage()
    local grown = (collectgarbage("count") - before) / 1024
    assert.is_true(grown < 8, ("Lua heap grew by %.1f MiB"):format(grown))
    assert.equal(100000, imap.mailbox.exists)
  end)

  it("folds FETCH updates without a UID during a UID FETCH", function()
    local flood = {}
    for i = 1, 50 do
      flood[i] = ("* %d FETCH (FLAGS (\\Seen))\r\n"):format(i)
    end
    local imap = open_selected({ { recv = "^A2 UID FETCH" },
      { send = table.concat(flood) .. "* 1 FETCH (UID 9 FLAGS ())\r\n" },
      { reply = "OK" } }, { limits = { max_unsolicited = 10 } })
    local got = imap:fetch({ 9 }, { "FLAGS" })
    assert.equal(1, #got)
    assert.equal(9, got[1].uid)
    assert.equal(50, imap.mailbox.flag_updates)
  end)

  it("caps what a command did not ask for", function()
    local imap = open_selected({ { recv = "^A2 NOOP" },
      { send = ("* OK noise\r\n"):rep(20) }, { reply = "OK" },
      { recv = "^A3 NOOP" }, { reply = "OK" } },
      { limits = { max_unsolicited = 10 } })
    local err = err_of(imap.noop, imap)
    assert.equal("limit", err.kind)
    assert.equal("NOOP", err.command)
    imap:noop() -- the session goes on
  end)

  it("caps the responses kept for response() across names", function()
    local lines = {}
    for i = 1, 300 do lines[i] = ("* X%d data\r\n"):format(i) end
    local imap = open_selected({ { recv = "^A2 NOOP" },
      { send = table.concat(lines) }, { reply = "OK" } },
      { limits = { max_kept = 50, max_unsolicited = 1000 } })
    imap:noop()
    local kept = 0
    for i = 1, 300 do kept = kept + #imap:response("X" .. i) end
    assert.is_true(kept > 0 and kept <= 50, "kept " .. kept)
  end)

  it("counts every set of one command against one UID cap", function()
    local imap = open_selected({ { recv = "^A2 UID COPY" },
      { reply = "OK [COPYUID 7 1:6 11:16] copied" } },
      { limits = { max_uids = 10 } })
    local err = err_of(imap.copy, imap, { 1, 2, 3, 4, 5, 6 }, "Archive")
    assert.equal("limit", err.kind)
  end)

  it("a memory error in flight reaches the script as a structured error",
      function()
    local imap = open_selected{ { recv = "^A2 UID FETCH" },
      { send = "* 1 FETCH (UID 1 FLAGS ())\r\n" }, { reply = "OK" },
      { recv = "^A3 NOOP" }, { reply = "OK" } }
    local err = err_of(imap.fetch, imap, { 1 }, { "FLAGS" },
      { each = function() error("not enough memory") end })
    assert.equal("nomem", err.kind)
    imap:noop()
  end)
end)

describe("content errors", function()
  it("a malformed response fails its command; the session goes on",
      function()
    local imap, srv = open_selected{ { recv = "^A2 UID FETCH" },
      { send = '* 1 FETCH (UID 1 BODY[] "bad \\q escape")\r\n' },
      { reply = "OK" }, { recv = "^A3 NOOP" }, { reply = "OK" } }
    local err = err_of(imap.fetch, imap, { 1 }, { "BODY.PEEK[]" })
    assert.equal("protocol", err.kind)
    assert.matches("malformed", err.text)
    imap:noop()
    finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("a classic SEARCH of 1,000,000 UIDs works on default limits",
      function()
    local nums = {}
    for i = 1, 1000000 do nums[i] = i end
    local imap = open_selected{ { recv = "^A2 UID SEARCH ALL" },
      { send = "* SEARCH " .. table.concat(nums, " ") .. "\r\n" },
      { reply = "OK" } }
    local got = imap:search("ALL")
    assert.equal(1000000, #got)
    assert.equal(1, got[1])
    assert.equal(1000000, got[1000000])
  end)
end)

describe("deadlines", function()
  it("command_timeout bounds a server that drips bytes", function()
    local drip = { preauth(), { recv = "^A1 NOOP" } }
    for _ = 1, 40 do
      drip[#drip + 1] = { send = "*" }
      drip[#drip + 1] = { sleep = 0.1 }
    end
    local imap = start(drip, { command_timeout = 0.8 })
    local err = err_of(imap.noop, imap)
    assert.equal("timeout", err.kind)
    assert.matches("command_timeout", err.text)
  end)
end)

describe("re-entrancy", function()
  it("a trace function cannot read, write or close its connection",
      function()
    local imap
    local errs = {}
    imap = start({ preauth(), { recv = "^A1 NOOP" }, { reply = "OK" },
      { recv = "^A2 NOOP" }, { reply = "OK" } },
      { trace = function()
        if not imap then return end
        for _, f in ipairs{ function() imap.conn:read(0) end,
          function() imap.conn:close() end,
          function() imap.conn:write_line("x") end } do
          local ok, e = pcall(f)
          if not ok then errs[#errs + 1] = e end
        end
      end })
    imap:noop()
    imap:noop()
    assert.is_true(#errs > 0)
    for _, e in ipairs(errs) do assert.equal("usage", e.kind) end
    assert.is_false(imap.conn:closed())
  end)

  it("an alert callback cannot run commands", function()
    local got
    local imap
    imap = start({ preauth(), { recv = "^A1 NOOP" },
      { send = "* OK [ALERT] maintenance tonight\r\n" }, { reply = "OK" },
      { recv = "^A2 NOOP" }, { reply = "OK" } },
      { on_alert = function()
        local ok, e = pcall(imap.noop, imap)
        got = not ok and e
      end })
    imap:noop()
    assert.equal("usage", got.kind)
    imap:noop()
  end)
end)
