-- Specs for moves and copies across accounts (lua/imapsift/actions.lua,
-- cross_account): the source is read in bounded batches and each batch
-- appended with append_many, so 250 messages take a few APPENDs; flags
-- and internal dates are kept, a cut move run again duplicates nothing,
-- a dry run appends nothing. Real Dovecot, spare users quinn (source)
-- and rita (destination).
local server = require "support.server"
local account = require "imapsift.account"
local msgset = require "imapsift.msgset"
local view = require "support.mailbox_view"
local actions = require "imapsift.actions"
local plan = require "imapsift.plan"
local errors = require "imapsift.error"
local connection = require "imapsift.connection"
local fake = require "support.fake"
local fake_account = require "support.fake_account"

server.as(15)
local RITA = { user = server.spare[16].user,
  password = server.spare[16].password }
local SRC, DST = "xfer-src", "xfer-dst"
local N = 250 -- more than one batch (200)

local raw_q, raw_r, saved_log, saved_progress
local opened = {}

-- A tracer: its client lines (the commands, literals elided).
local function tracer()
  local t = { lines = {} }
  function t.fn(dir, line)
    if dir == "C" or dir == ">" then t.lines[#t.lines + 1] = line end
  end
  -- count(word) -> how many commands of that name were sent.
  function t.count(word)
    local n = 0
    for _, l in ipairs(t.lines) do
      if l:match("^%S+ (.*)$") and (l:match("^%S+ UID (%S+)") == word or
          l:match("^%S+ (%S+)") == word) then
        n = n + 1
      end
    end
    return n
  end
  return t
end

local function accounts(tq, tr)
  local q = account.new(server.opts{ name = "quinn", create = true,
    trace = tq and tq.fn })
  local r = account.new(server.opts{ name = "rita", create = true,
    user = RITA.user, password = RITA.password, trace = tr and tr.fn })
  opened[#opened + 1], opened[#opened + 2] = q, r
  return q, r
end

-- fill(n) -> UIDs of n new messages in SRC, some flagged, dates apart.
local function fill(n)
  raw_q:create(SRC)
  local list = {}
  for i = 1, n do
    local flags = {}
    if i % 3 == 0 then flags[#flags + 1] = "\\Flagged" end
    if i % 5 == 0 then flags[#flags + 1] = "$Work" end
    list[i] = { message = server.message{ subject = "xfer " .. i,
      message_id = ("<xfer-%d@example.org>"):format(i) }, flags = flags,
      date = ("%02d-Mar-2023 %02d:%02d:07 +0100"):format(i % 28 + 1,
        i % 24, i % 60) }
  end
  local uids = {}
  for i, r in ipairs(raw_q:append_many(SRC, list)) do uids[i] = r.uid end
  return uids
end

local function set_of(acct, uids)
  return view.set_of(acct, raw_q, SRC, uids)
end

-- snapshot(conn, name) -> { [Message-ID] = "flags|date" } and the number
-- of messages (a Message-ID twice counts twice).
local function snapshot(conn, name)
  if #conn:list("", name) == 0 then return {}, 0 end
  local out, list = {}, view.messages(conn, name, "INTERNALDATE")
  for _, m in ipairs(list) do
    out[m.id] = table.concat(m.flags, " ") .. "|" .. m.msg.internaldate
  end
  return out, #list
end

-- all_moved(before): SRC is empty and DST holds exactly before.
local function all_moved(before)
  local left, nleft = snapshot(raw_q, SRC)
  assert.are.same({}, left)
  assert.are.equal(0, nleft)
  local got, n = snapshot(raw_r, DST)
  assert.are.equal(N, n)
  assert.are.same(before, got)
end

setup(function()
  raw_q = server.connect()
  raw_r = server.connect(RITA)
  saved_log, saved_progress = plan.log, connection.on_progress
end)

teardown(function()
  server.reset(raw_q)
  server.reset(raw_r)
  raw_q:logout()
  raw_r:logout()
end)

before_each(function()
  plan.log = function() end
  plan.reset()
  plan.dry_run(false)
end)

after_each(function()
  for _, a in ipairs(opened) do pcall(a.logout, a) end
  opened = {}
  plan.log, connection.on_progress = saved_log, saved_progress
  plan.dry_run(false)
  plan.reset()
end)

describe("a move across accounts", function()
  before_each(function()
    server.reset(raw_q)
    server.reset(raw_r)
  end)

  it("moves all in batches, flags and dates kept, few APPENDs", function()
    local uids = fill(N)
    local before = snapshot(raw_q, SRC)
    local reports = {}
    connection.on_progress = function(what, done, total)
      if what == "MOVE" then reports[#reports + 1] = { done, total } end
    end
    local tq, tr = tracer(), tracer()
    local q, r = accounts(tq, tr)
    assert.are.equal(N, actions.move(set_of(q, uids), r:mailbox(DST)))
    all_moved(before)
    -- MULTIAPPEND: one APPEND per batch, the bodies one FETCH per batch
    assert.is_truthy(raw_r.capabilities.MULTIAPPEND)
    assert.are.equal(2, tr.count("APPEND"))
    local bodies = 0
    for _, l in ipairs(tq.lines) do
      if l:find("BODY.PEEK[]", 1, true) then bodies = bodies + 1 end
    end
    assert.are.equal(2, bodies)
    assert.are.same({ { 200, N }, { N, N } }, reports)
    local e = plan.entries()[1]
    assert.are.equal(N, e.count)
    assert.are.equal(0, e.skipped)
    assert.are.equal("rita", e.destination_account)
  end)

  it("copies and keeps the source", function()
    local uids = fill(20)
    local before = snapshot(raw_q, SRC)
    local q, r = accounts()
    assert.are.equal(20, actions.copy(set_of(q, uids), r:mailbox(DST)))
    assert.are.same(before, (snapshot(raw_q, SRC)))
    assert.are.same(before, (snapshot(raw_r, DST)))
  end)

  it("cut in its second batch, then run again: each message once",
      function()
    local uids = fill(N)
    local before = snapshot(raw_q, SRC)
    local q, r = accounts()
    raw_r:create(DST)
    -- the second batch goes in, then the link drops unanswered
    local c, calls = r:conn(), 0
    local real = c.append_many
    c.append_many = function(self, ...)
      calls = calls + 1
      local res = real(self, ...)
      if calls == 2 then
        self:shutdown()
        errors.raise{ kind = "closed", command = "APPEND",
          text = "connection cut by the spec" }
      end
      return res
    end
    local ok, err = pcall(actions.move, set_of(q, uids), r:mailbox(DST))
    assert.is_false(ok)
    assert.is_true(errors.is(err, "closed"))
    -- the first batch was confirmed and left the source; the second is
    -- in the destination too but unconfirmed, so still in the source
    local e = plan.entries()[1]
    assert.are.equal(200, e.count)
    assert.truthy(e.note:find("stopped by an error: 50 left", 1, true))
    local _, nleft = snapshot(raw_q, SRC)
    assert.are.equal(N - 200, nleft)
    local _, ndst = snapshot(raw_r, DST)
    assert.are.equal(N, ndst)
    -- the retry finds those 50 by Message-ID and appends none again
    plan.reset()
    local tr = tracer()
    local q2, r2 = accounts(nil, tr)
    assert.are.equal(N - 200, actions.move(q2:mailbox(SRC):select_all(),
      r2:mailbox(DST)))
    assert.are.equal(N - 200, plan.entries()[1].skipped)
    assert.are.equal(0, tr.count("APPEND"))
    all_moved(before)
  end)

  it("stopped between batches: the first batch moved, the rest left " ..
      "in the source, a run again finishes it", function()
    local uids = fill(N)
    local before = snapshot(raw_q, SRC)
    local q, r = accounts()
    local stopping = false
    connection.on_progress = function(what) stopping = what == "MOVE" end
    local real_stop = plan.should_stop
    plan.should_stop = function() return stopping end
    local ok, err = pcall(actions.move, set_of(q, uids), r:mailbox(DST))
    plan.should_stop = real_stop
    assert.is_false(ok)
    assert.is_true(errors.is(err, "stopped"))
    assert.are.equal(SRC, err.mailbox)
    assert.truthy(err.text:find("200 of " .. N, 1, true))
    assert.are.equal(200, plan.entries()[1].count)
    local _, nleft = snapshot(raw_q, SRC)
    assert.are.equal(N - 200, nleft)
    local _, ndst = snapshot(raw_r, DST)
    assert.are.equal(200, ndst)
    plan.reset()
    local q2, r2 = accounts()
    assert.are.equal(N - 200, actions.move(q2:mailbox(SRC):select_all(),
      r2:mailbox(DST)))
    local got, n = snapshot(raw_r, DST)
    assert.are.equal(N, n)
    assert.are.same(before, got)
  end)

  it("in a dry run sends no APPEND and changes nothing", function()
    local uids = fill(30)
    local before = snapshot(raw_q, SRC)
    plan.dry_run(true)
    local tq, tr = tracer(), tracer()
    local q, r = accounts(tq, tr)
    assert.are.equal(30, actions.move(set_of(q, uids), r:mailbox(DST)))
    assert.are.equal(0, tr.count("APPEND"))
    assert.are.equal(0, tr.count("CREATE"))
    assert.are.equal(0, tq.count("STORE") + tq.count("EXPUNGE"))
    local e = plan.entries()[1]
    assert.are.equal(30, e.count)
    assert.truthy(e.note:find("would create " .. DST, 1, true))
    assert.are.same(before, (snapshot(raw_q, SRC)))
    assert.are.equal(0, #raw_r:list("", DST))
  end)
end)

-- Dovecot always answers APPENDUID: a destination without UIDPLUS is a
-- scripted fake server.
describe("a move across accounts without APPENDUID", function()
  local MSG = "Message-ID: <a@x>\r\nSubject: one\r\n\r\nHi\r\n"
  local NOID = "Subject: two\r\n\r\nHo\r\n"
  local DATE = '"01-Jan-2024 10:00:00 +0000"'
  local dst

  after_each(function()
    fake_account.cleanup()
    if dst then dst:cleanup() end
    dst = nil
  end)

  local function lit(v) return "{" .. #v .. "}\r\n" .. v end
  local function esc(v) return (v:gsub("%p", "%%%0")) end
  local function id_of(uid, size, header)
    return { send = ("* %d FETCH (UID %d RFC822.SIZE %d " ..
      "BODY[HEADER.FIELDS (MESSAGE-ID)] %s)\r\n"):format(uid, uid, size,
      lit(header)) }
  end
  local function body_of(uid, flags, body)
    return { send = ("* %d FETCH (UID %d FLAGS (%s) INTERNALDATE %s " ..
      "BODY[] %s)\r\n"):format(uid, uid, flags, DATE, lit(body)) }
  end

  it("reads and appends a batch at once and confirms its Message-IDs " ..
      "with one search", function()
    local src_acct, src = fake_account.start("", {
      { recv = "^A2 UID FETCH 1:3 %(UID RFC822%.SIZE BODY%.PEEK%[HEADER" ..
        "%.FIELDS %(MESSAGE%-ID%)%]%)\r\n$" },
      id_of(1, #MSG, "Message-ID: <a@x>\r\n\r\n"),
      id_of(2, #NOID, "\r\n"),
      id_of(3, 30, "Message-ID: <c@x>\r\n\r\n"),
      { reply = "OK fetched" },
      -- one FETCH for the batch; message 3 has gone meanwhile
      { recv = "^A3 UID FETCH 1:3 %(BODY%.PEEK%[%] FLAGS INTERNALDATE%)" ..
        "\r\n$" },
      body_of(1, "\\Seen \\Recent", MSG), body_of(2, "", NOID),
      { reply = "OK fetched" },
      { recv = "^A4 UID STORE 1 %+FLAGS%.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" } })
    local search = '^A%d UID SEARCH %s\r\n$'
    dst = fake.new{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1 MULTIAPPEND LITERAL+] " ..
        "hi\r\n" },
      { recv = '^A1 LIST "" Archive\r\n$' },
      { send = '* LIST () "/" Archive\r\n' }, { reply = "OK listed" },
      { recv = "^A2 EXAMINE Archive\r\n$" },
      { send = "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
      { reply = "OK [READ-ONLY] examined" },
      { recv = search:format(3, 'OR HEADER "Message%-ID" "<a@x>" ' ..
        'HEADER "Message%-ID" "<c@x>"') },
      { reply = "OK none" },
      { recv = "^A4 APPEND Archive %(\\Seen%) " .. esc(DATE) .. " {" ..
        #MSG .. "%+}\r\n" .. esc(MSG) .. " %(%) " .. esc(DATE) .. " {" ..
        #NOID .. "%+}\r\n" .. esc(NOID) .. "\r\n$" },
      { reply = "OK appended" },
      { recv = search:format(5, 'HEADER "Message%-ID" "<a@x>"') },
      { send = "* SEARCH 7\r\n" }, { reply = "OK found" },
      { recv = "^A6 UID FETCH 7 " },
      { send = "* 1 FETCH (UID 7 BODY[HEADER.FIELDS (MESSAGE-ID)] " ..
        lit("Message-ID: <a@x>\r\n\r\n") .. ")\r\n" },
      { reply = "OK fetched" },
      { drain = true } }
    local dst_acct = account.new(dst:options{ name = "far" })
    opened[#opened + 1] = dst_acct
    local reports = {}
    connection.on_progress = function(what, done, total)
      if what == "MOVE" then reports[#reports + 1] = { done, total } end
    end
    local set = msgset.new{ { mailbox = src_acct:mailbox("INBOX"),
      uidvalidity = 42, uids = { 1, 2, 3 } } }
    assert.are.equal(1, actions.move(set, dst_acct:mailbox("Archive")))
    dst_acct:logout()
    src_acct:logout()
    assert.are.equal("done", dst:status())
    assert.are.equal("done", src:status())
    assert.is_nil(src:log():find("EXPUNGE", 1, true)) -- no UIDPLUS
    assert.are.same({ { 3, 3 } }, reports)
    local e = plan.entries()[1]
    assert.are.same({ 1 }, e.uids)
    assert.are.same({ "<a@x>" }, e.message_ids)
    assert.truthy(e.note:find("2 not confirmed", 1, true))
  end)

  it("stopped by a refused APPEND: the confirmed part leaves the source, " ..
      "the rest stays, the error is raised", function()
    local A = "Message-ID: <a@x>\r\n\r\nA\r\n"
    local B = "Message-ID: <b@x>\r\n\r\nB\r\n"
    local src_acct, src = fake_account.start("UIDPLUS", {
      { recv = "^A2 UID FETCH 1:2 %(UID RFC822%.SIZE " },
      id_of(1, #A, "Message-ID: <a@x>\r\n\r\n"),
      id_of(2, #B, "Message-ID: <b@x>\r\n\r\n"),
      { reply = "OK fetched" },
      { recv = "^A3 UID FETCH 1:2 %(BODY%.PEEK%[%] " },
      body_of(1, "", A), body_of(2, "", B), { reply = "OK fetched" },
      { recv = "^A4 UID STORE 1 %+FLAGS%.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" },
      { recv = "^A5 UID EXPUNGE 1\r\n$" }, { reply = "OK expunged" } })
    dst = fake.new{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hi\r\n" },
      { recv = '^A1 LIST "" Archive\r\n$' },
      { send = '* LIST () "/" Archive\r\n' }, { reply = "OK listed" },
      { recv = "^A2 EXAMINE Archive\r\n$" },
      { send = "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
      { reply = "OK [READ-ONLY] examined" },
      { recv = "^A3 UID SEARCH OR " }, { reply = "OK none" },
      -- pipelined: both APPENDs are sent before either is answered
      { recv = "^A4 APPEND Archive %(%) " .. esc(DATE) .. " {" .. #A ..
        "%+}\r\n" .. esc(A) .. "\r\n$" },
      { recv = "^A5 APPEND Archive %(%) " .. esc(DATE) .. " {" .. #B ..
        "%+}\r\n" .. esc(B) .. "\r\n$" },
      { send = "A4 OK [APPENDUID 7 1] done\r\n" ..
        "A5 NO [OVERQUOTA] mailbox full\r\n" },
      { drain = true } }
    local dst_acct = account.new(dst:options{ name = "far" })
    opened[#opened + 1] = dst_acct
    local set = msgset.new{ { mailbox = src_acct:mailbox("INBOX"),
      uidvalidity = 42, uids = { 1, 2 } } }
    local err = fake.error_of(actions.move, set, dst_acct:mailbox("Archive"))
    assert.are.equal("no", err.kind)
    assert.are.equal("OVERQUOTA", err.code)
    assert.are.equal("APPEND", err.command)
    assert.are.equal("Archive", err.mailbox)
    dst_acct:logout()
    src_acct:logout()
    assert.are.equal("done", dst:status())
    assert.are.equal("done", src:status())
    local e = plan.entries()[1]
    assert.are.same({ 1 }, e.uids)
    assert.truthy(e.note:find("stopped by an error: 1 left", 1, true))
  end)
end)
