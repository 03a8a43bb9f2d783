-- Specs for imap:append_many (lua/imapsift/commands.lua) against the
-- scripted fake server: the exact bytes sent on servers without LITERAL+
-- (each literal waits for "+" while earlier commands complete), with
-- LITERAL- only, without MULTIAPPEND, and commands that fail mid-way or
-- a link that breaks with commands in flight.
local fake = require "support.fake"
local errors = require "imapsift.error"
local connection = require "imapsift.connection"

local CRLF = "\r\n"
local s = fake.session()

after_each(function()
  s:cleanup()
  connection.on_progress = nil
end)

-- A session that is logged in (PREAUTH) with caps, then the steps given.
local function start(caps, steps, extra)
  local all = { { send = "* PREAUTH [CAPABILITY IMAP4rev1 " .. caps ..
    "] hi" .. CRLF } }
  for _, step in ipairs(steps) do all[#all + 1] = step end
  all[#all + 1] = { drain = true }
  return s:start(all, extra)
end

local function uids_of(results)
  local out = {}
  for i, r in pairs(results) do out[i] = r.uid end
  return out
end

describe("append_many without LITERAL+ or MULTIAPPEND", function()
  it("sends one APPEND per message, each literal after its '+', " ..
    "keeping earlier completions for their own wait", function()
    local imap, srv = start("UIDPLUS", {
      { recv = "^A1 APPEND INBOX {4}\r\none!\r\n$" },
      -- A1's completion comes before A2's "+": it is A1's, not a "+".
      { recv = "^A2 APPEND INBOX {4}\r\ntwo!\r\n$",
        cont = "A1 OK [APPENDUID 7 11] done\r\n+ go" },
      { recv = "^A3 APPEND INBOX {6}\r\nthree!\r\n$",
        cont = "A2 OK [APPENDUID 7 12] done\r\n+ go" },
      { send = "A3 OK [APPENDUID 7 13] done\r\n" },
    })
    local r = imap:append_many("INBOX", { "one!", "two!", "three!" })
    assert.same({ 11, 12, 13 }, uids_of(r))
    assert.equal(7, r[3].uidvalidity)
    s.finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("a NO instead of '+' fails that command only; the one in flight " ..
    "after it still counts", function()
    local imap, srv = start("UIDPLUS", {
      { recv = "^A1 APPEND INBOX {4}\r\none!\r\n$" },
      { recv = "^A2 APPEND INBOX {4}\r\n", refuse = "NO [OVERQUOTA] full" },
      { recv = "^A3 APPEND INBOX {6}\r\nthree!\r\n$",
        cont = "A1 OK [APPENDUID 7 11] done\r\n+ go" },
      { send = "A3 OK [APPENDUID 7 12] done\r\n" },
    })
    local err = fake.error_of(imap.append_many, imap, "INBOX",
      { "one!", "two!", "three!" })
    assert.is_true(errors.is(err, "no"))
    assert.equal("OVERQUOTA", err.code)
    assert.equal("APPEND", err.command)
    assert.equal("INBOX", err.mailbox)
    assert.equal(1, err.appended)
    assert.same({ [1] = 11, [3] = 12 }, uids_of(err.results))
    assert.is_nil(err.uncertain)
    local log = s.finish(imap, srv)
    assert.equal("done", srv:status())
    -- The refused literal never went out.
    assert.is_nil(log:find("two!", 1, true))
    -- The connection is still in step with the server.
  end)

  it("the connection goes on after a failed batch", function()
    local imap, srv = start("", {
      { recv = "^A1 APPEND INBOX {2}\r\n", refuse = "NO nope" },
      { recv = "^A2 NOOP\r\n$" },
      { reply = "OK noop" },
    })
    local err = fake.error_of(imap.append_many, imap, "INBOX", { "x!" })
    assert.equal(0, err.appended)
    assert.same({}, err.results)
    imap:noop()
    s.finish(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("append_many with LITERAL-", function()
  it("sends literals up to 4096 bytes non-synchronizing, larger ones " ..
    "after '+'", function()
    local big = ("b"):rep(5000)
    local imap, srv = start("LITERAL- UIDPLUS", {
      { recv = "^A1 APPEND INBOX {5%+}\r\nsmall\r\n$" },
      { recv = "^A2 APPEND INBOX {5000}\r\nbbbb" },
      { send = "A1 OK [APPENDUID 7 1] a\r\nA2 OK [APPENDUID 7 2] b\r\n" },
    })
    local r = imap:append_many("INBOX", { "small", big })
    assert.same({ 1, 2 }, uids_of(r))
    s.finish(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("append_many with MULTIAPPEND", function()
  it("puts runs of messages in one command each, all sent before any " ..
    "answer is read; a failed one appends none of its messages",
    function()
    local imap, srv = start("MULTIAPPEND LITERAL+ UIDPLUS", {
      { recv = "^A1 APPEND INBOX {1%+}\r\na {1%+}\r\nb\r\n$" },
      { recv = "^A2 APPEND INBOX {1%+}\r\nc {1%+}\r\nd\r\n$" },
      { recv = "^A3 APPEND INBOX {1%+}\r\ne\r\n$" },
      { send = "A1 OK [APPENDUID 7 1:2] a\r\n" ..
        "A2 NO [LIMIT] too many\r\nA3 OK [APPENDUID 7 3] c\r\n" },
    })
    local progress = {}
    connection.on_progress = function(what, done, total)
      progress[#progress + 1] = what .. " " .. done .. "/" .. total
    end
    local err = fake.error_of(imap.append_many, imap, "INBOX",
      { "a", "b", "c", "d", "e" }, { batch = 2 })
    assert.equal("LIMIT", err.code)
    assert.equal(2, err.appended)
    assert.same({ [1] = 1, [2] = 2, [5] = 3 }, uids_of(err.results))
    assert.same({ "APPEND 2/5", "APPEND 3/5" }, progress)
    s.finish(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("without LITERAL+ waits for '+' before each literal of a command, " ..
    "with flags and dates per message", function()
    local imap, srv = start("MULTIAPPEND UIDPLUS", {
      { recv = "^A1 APPEND INBOX %(\\Seen%) \"01%-Feb%-2024 10:00:00 " ..
        "%+0000\" {3}\r\none {3}\r\ntwo\r\n$" },
      { reply = "OK [APPENDUID 7 5:6] done" },
    })
    local r = imap:append_many("INBOX", {
      { message = "one", flags = { "\\Seen" }, date = 1706781600 },
      "two" })
    assert.same({ 5, 6 }, uids_of(r))
    local log = s.finish(imap, srv)
    assert.equal("done", srv:status())
    -- Two "+ go" were needed: the log holds the command as sent.
    assert.truthy(log:find("{3}\r\none {3}\r\ntwo\r\n", 1, true))
  end)

  it("gives true per message when APPENDUID does not fit the count",
    function()
    local imap, srv = start("MULTIAPPEND LITERAL+", {
      { recv = "^A1 APPEND INBOX {1%+}\r\na {1%+}\r\nb\r\n$" },
      { reply = "OK done" },
    })
    assert.same({ true, true }, imap:append_many("INBOX", { "a", "b" }))
    s.finish(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("append_many and a lost link", function()
  it("reports what was confirmed and that the rest is uncertain",
    function()
    local imap, srv = start("LITERAL+ UIDPLUS", {
      { recv = "^A1 APPEND INBOX {1%+}\r\na\r\n$" },
      { recv = "^A2 APPEND INBOX {1%+}\r\nb\r\n$" },
      { send = "A1 OK [APPENDUID 7 1] a\r\n" },
      { close = true },
    })
    local err = fake.error_of(imap.append_many, imap, "INBOX", { "a", "b" })
    assert.equal("closed", err.kind)
    assert.equal(1, err.appended)
    assert.is_true(err.uncertain)
    s.finish(imap, srv)
  end)
end)

describe("append_many's arguments and dry run", function()
  it("checks every message before sending any", function()
    local imap, srv = start("LITERAL+", {})
    local err = fake.error_of(imap.append_many, imap, "INBOX",
      { "a", 42 })
    assert.equal("usage", err.kind)
    assert.truthy(tostring(err):find("message 2", 1, true))
    err = fake.error_of(imap.append_many, imap, "INBOX",
      { "a", { message = "b", flags = { "bad flag" } } })
    assert.equal("usage", err.kind)
    assert.equal("", s.finish(imap, srv))
  end)

  it("calls the interceptor once and sends nothing", function()
    local imap, srv = start("LITERAL+ MULTIAPPEND", {})
    local seen = {}
    imap.intercept = function(info)
      seen[#seen + 1] = info
      return "planned"
    end
    assert.equal("planned", imap:append_many("Box", { "ab", "cde" }))
    assert.equal(1, #seen)
    assert.equal("APPEND", seen[1].command)
    assert.equal("Box", seen[1].mailbox)
    assert.equal(2, seen[1].count)
    assert.equal(5, seen[1].size)
    assert.equal("", s.finish(imap, srv))
  end)
end)
