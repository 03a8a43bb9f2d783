-- Specs for lua/imapsift/actions.lua against the scripted fake server:
-- the exact commands an action sends on servers without MOVE or
-- UIDPLUS, a destination the server says to create (TRYCREATE), and the
-- dry run that sends nothing.
local fake = require "support.fake"
local account = require "imapsift.account"
local msgset = require "imapsift.msgset"
local actions = require "imapsift.actions"
local plan = require "imapsift.plan"

local CRLF = "\r\n"

local servers, accounts, lines = {}, {}, {}
local saved_log

before_each(function()
  saved_log = plan.log
  lines = {}
  plan.log = function(line) lines[#lines + 1] = line end
  plan.reset()
  plan.dry_run(false)
end)

after_each(function()
  for _, a in ipairs(accounts) do pcall(a.logout, a) end
  for _, s in ipairs(servers) do s:cleanup() end
  servers, accounts = {}, {}
  plan.log = saved_log
  plan.dry_run(false)
  plan.reset()
end)

-- PREAUTH with caps, then SELECT INBOX read-write (UIDVALIDITY 42), then
-- the steps given.
local function script(caps, more, examine)
  local steps = {
    { send = "* PREAUTH [CAPABILITY IMAP4rev1 " .. caps .. "] hi" .. CRLF },
    { recv = examine and "^A1 EXAMINE INBOX\r\n$" or "^A1 SELECT INBOX\r\n$" },
    { send = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" ..
      "* OK [UIDNEXT 10] x\r\n" },
    { reply = examine and "OK [READ-ONLY] examined" or
      "OK [READ-WRITE] selected" },
  }
  for _, s in ipairs(more) do steps[#steps + 1] = s end
  steps[#steps + 1] = { drain = true }
  return steps
end

-- An account on a fake server, and the set of UIDs 1:3 in its INBOX.
local function start(caps, more, opts)
  local srv = fake.new(script(caps, more, opts and opts.examine))
  servers[#servers + 1] = srv
  local o = srv:options{ name = "fake" }
  for k, v in pairs(opts or {}) do if k ~= "examine" then o[k] = v end end
  local acct = account.new(o)
  accounts[#accounts + 1] = acct
  local set = msgset.new{ { mailbox = acct:mailbox("INBOX"),
    uidvalidity = 42, uids = { 1, 2, 3 } } }
  return acct, set, srv
end

-- The commands the client sent, without the tag.
local function sent(acct, srv)
  local conn = rawget(acct, "link")
  if conn then conn:shutdown() end -- waits for the fake: the log is whole
  local out = {}
  for line in srv:log():gmatch("([^\n]*)\n") do
    out[#out + 1] = line:gsub("\r$", ""):gsub("^%S+ ", "")
  end
  return out
end

-- What a move without MOVE asks first: the Message-IDs of UIDs 1:3,
-- whether the destination exists and holds any of them (found: the
-- UIDs there), then the source selected again: A2..A6 (A2..A7 when
-- found, which adds a FETCH of the found message's Message-ID).
local function already_there(found)
  local steps = {
    { recv = "^A2 UID FETCH 1:3 %(UID BODY.PEEK%[HEADER.FIELDS " ..
      "%(MESSAGE%-ID%)%]%)\r\n$" } }
  for i = 1, 3 do
    steps[#steps + 1] = { send = ("* %d FETCH (UID %d BODY[HEADER.FIELDS " ..
      "(MESSAGE-ID)] {21}\r\nMessage-ID: <%d@x>\r\n\r\n)\r\n"):format(i, i, i) }
  end
  local more = {
    { reply = "OK fetched" },
    { recv = '^A3 LIST "" Archive\r\n$' },
    { send = '* LIST () "/" Archive\r\n' }, { reply = "OK listed" },
    { recv = "^A4 EXAMINE Archive\r\n$" },
    { send = "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
    { reply = "OK [READ-ONLY] examined" },
    { recv = "^A5 UID SEARCH OR HEADER" } }
  for _, step in ipairs(more) do steps[#steps + 1] = step end
  local tag = 6 -- the SELECT's
  if found then
    steps[#steps + 1] = { send = "* SEARCH 9\r\n" }
    steps[#steps + 1] = { reply = "OK searched" }
    steps[#steps + 1] = { recv = "^A6 UID FETCH 9 " }
    steps[#steps + 1] = { send = "* 1 FETCH (UID 9 BODY[HEADER.FIELDS " ..
      "(MESSAGE-ID)] {21}\r\nMessage-ID: <" .. found .. "@x>\r\n\r\n)\r\n" }
    steps[#steps + 1] = { reply = "OK fetched" }
    tag = 7
  else
    steps[#steps + 1] = { reply = "OK none" }
  end
  steps[#steps + 1] = { recv = ("^A%d SELECT INBOX\r\n$"):format(tag) }
  steps[#steps + 1] = { send = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" }
  steps[#steps + 1] = { reply = "OK [READ-WRITE] selected" }
  return steps
end

local function with(steps, more)
  for _, s in ipairs(more) do steps[#steps + 1] = s end
  return steps
end

local function has(list, s)
  for _, v in ipairs(list) do if v == s then return true end end
  return false
end

describe("actions on a fake server", function()
  it("moves with MOVE when offered", function()
    local acct, set, srv = start("MOVE UIDPLUS", {
      { recv = "^A2 UID MOVE 1:3 Archive\r\n$" }, { reply = "OK moved" } })
    assert.are.equal(3, actions.move(set, acct:mailbox("Archive")))
    local cmds = sent(acct, srv)
    assert.are.equal("UID MOVE 1:3 Archive", cmds[2])
    assert.are.equal("fake: moved 3 messages INBOX -> Archive (uids 1:3)",
      lines[1])
  end)

  it("without MOVE: COPY, \\Deleted, UID EXPUNGE of exactly those",
    function()
    local steps = already_there(nil) -- A2..A6, then COPY is A7
    local acct, set, srv = start("UIDPLUS", with(steps, {
      { recv = "^A7 UID COPY 1:3 Archive\r\n$" }, { reply = "OK copied" },
      { recv = "^A8 UID STORE 1:3 %+FLAGS.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" },
      { recv = "^A9 UID EXPUNGE 1:3\r\n$" }, { reply = "OK expunged" } }))
    actions.move(set, "Archive")
    local cmds = sent(acct, srv)
    assert.are.equal("done", srv:status())
    assert.are.equal("UID EXPUNGE 1:3", cmds[9])
    assert.is_false(has(cmds, "EXPUNGE"))
  end)

  it("without MOVE, run again after a cut: copies only what is missing",
    function()
    -- <2@x> is already in Archive (a run cut after its COPY).
    local steps = already_there(2)
    local acct, set, srv = start("UIDPLUS", with(steps, {
      { recv = "^A8 UID COPY 1,3 Archive\r\n$" }, { reply = "OK copied" },
      { recv = "^A9 UID STORE 1:3 %+FLAGS.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" },
      { recv = "^A10 UID EXPUNGE 1:3\r\n$" }, { reply = "OK expunged" } }))
    assert.are.equal(3, actions.move(set, "Archive"))
    sent(acct, srv)
    assert.are.equal("done", srv:status())
    assert.are.equal(1, plan.entries()[1].skipped)
  end)

  it("without MOVE and UIDPLUS: leaves them \\Deleted and warns",
    function()
    local steps = already_there(nil)
    local acct, set, srv = start("", with(steps, {
      { recv = "^A7 UID COPY 1:3 Archive\r\n$" }, { reply = "OK copied" },
      { recv = "^A8 UID STORE 1:3 %+FLAGS.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" } }))
    assert.are.equal(3, actions.move(set, acct:mailbox("Archive")))
    local cmds = sent(acct, srv)
    assert.are.equal("done", srv:status())
    assert.are.equal(8, #cmds) -- ... COPY, STORE and no EXPUNGE
    for _, c in ipairs(cmds) do assert.is_nil(c:find("EXPUNGE")) end
    local e = plan.entries()[1]
    assert.truthy(e.note:find("left marked \\Deleted", 1, true))
    assert.truthy(lines[1]:find("warning:", 1, true))
  end)

  it("delete without UIDPLUS marks only, never a plain EXPUNGE", function()
    local acct, set, srv = start("", {
      { recv = "^A2 UID STORE 1:3 %+FLAGS.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" } })
    actions.delete(set)
    local cmds = sent(acct, srv)
    for _, c in ipairs(cmds) do assert.is_nil(c:find("EXPUNGE")) end
    assert.truthy(plan.entries()[1].note:find("UIDPLUS", 1, true))
  end)

  it("creates a destination on NO [TRYCREATE] when the account says so",
    function()
    local acct, set, srv = start("MOVE UIDPLUS", {
      { recv = "^A2 UID MOVE 1:3 News\r\n$" },
      { reply = "NO [TRYCREATE] no such mailbox" },
      { recv = "^A3 CREATE News\r\n$" }, { reply = "OK created" },
      { recv = "^A4 UID MOVE 1:3 News\r\n$" }, { reply = "OK moved" } },
      { create = true })
    assert.are.equal(3, actions.move(set, "News"))
    local cmds = sent(acct, srv)
    assert.are.equal("CREATE News", cmds[3])
    assert.are.equal("UID MOVE 1:3 News", cmds[4])
  end)

  it("names account and mailbox when it may not create it", function()
    local acct, set, srv = start("MOVE UIDPLUS", {
      { recv = "^A2 UID MOVE 1:3 News\r\n$" },
      { reply = "NO [TRYCREATE] no such mailbox" } })
    local ok, err = pcall(actions.move, set, "News")
    assert.is_false(ok)
    assert.are.equal("TRYCREATE", err.code)
    assert.are.equal("News", err.mailbox)
    local text = tostring(err)
    assert.truthy(text:find('"News"', 1, true))
    assert.truthy(text:find("account fake", 1, true))
    assert.truthy(text:find("create = true", 1, true))
    local cmds = sent(acct, srv)
    for _, c in ipairs(cmds) do assert.is_nil(c:find("CREATE")) end
  end)

  it("stores flags silently and refuses a bad flag before sending",
    function()
    local acct, set, srv = start("", {
      { recv = "^A2 UID STORE 1:3 %-FLAGS.SILENT %(\\Flagged%)\r\n$" },
      { reply = "OK stored" } })
    local ok, err = pcall(actions.store, set, "+FLAGS", "\\*")
    assert.is_false(ok)
    assert.are.equal("usage", err.kind)
    assert.are.equal(set, actions.unflag(set, "\\Flagged")) -- queued
    require("imapsift.batch").drain_all()
    local cmds = sent(acct, srv)
    assert.are.equal("UID STORE 1:3 -FLAGS.SILENT (\\Flagged)", cmds[2])
    assert.are.equal("fake: unflagged 3 messages INBOX \\Flagged " ..
      "(uids 1:3)", lines[1])
  end)

  it("in a dry run examines, checks the destination, sends no change",
    function()
    local acct, set, srv = start("MOVE UIDPLUS", {
      { recv = "^A2 LIST \"\" Archive\r\n$" },
      { send = "* LIST () \"/\" Archive\r\n" }, { reply = "OK listed" } },
      { examine = true })
    plan.dry_run(true)
    assert.are.equal(3, actions.move(set, "Archive"))
    assert.are.equal(3, actions.delete(set))
    assert.are.equal(set, actions.mark_seen(set))
    -- the second guard: a change asked of the connection itself is held
    assert.is_true(acct:conn():store({ 1 }, "+FLAGS", { "\\Seen" }))
    local cmds = sent(acct, srv)
    assert.are.same({ "EXAMINE INBOX", 'LIST "" Archive' }, cmds)
    assert.are.equal("fake: would move 3 messages INBOX -> Archive " ..
      "(uids 1:3)", lines[1])
    assert.are.equal(3, #plan.entries())
  end)
end)

-- A FETCH response line for a literal.
local function lit(s) return "{" .. #s .. "}\r\n" .. s end

-- s as a Lua pattern matching itself.
local function esc(s) return (s:gsub("%p", "%%%0")) end

describe("a cross-account move on servers without UIDPLUS", function()
  local MSG = "Message-ID: <a@x>\r\nSubject: one\r\n\r\nHi\r\n"
  local NOID = "Subject: two\r\n\r\nHo\r\n"
  local DATE = '"01-Jan-2024 10:00:00 +0000"'

  local function fetch_id(uid, seq, header)
    return { send = ("* %d FETCH (UID %d BODY[HEADER.FIELDS (MESSAGE-ID)]" ..
      " %s)\r\n"):format(seq, uid, lit(header)) }
  end

  local function fetch_msg(uid, flags, body)
    return { send = ("* %d FETCH (UID %d FLAGS (%s) INTERNALDATE %s " ..
      "BODY[] %s)\r\n"):format(uid, uid, flags, DATE, lit(body)) }
  end

  it("confirms by Message-ID, keeps what it cannot confirm", function()
    local src_acct, _, src = start("", {
      { recv = "^A2 UID FETCH 1:2 %(UID BODY.PEEK%[HEADER.FIELDS " ..
        "%(MESSAGE%-ID%)%]%)\r\n$" },
      fetch_id(1, 1, "Message-ID: <a@x>\r\n\r\n"), fetch_id(2, 2, "\r\n"),
      { reply = "OK fetched" },
      { recv = "^A3 UID FETCH 1 %(BODY.PEEK%[%] FLAGS INTERNALDATE%)" },
      fetch_msg(1, "\\Seen \\Recent", MSG), { reply = "OK fetched" },
      { recv = "^A4 UID FETCH 2 " }, fetch_msg(2, "", NOID),
      { reply = "OK fetched" },
      { recv = "^A5 UID STORE 1 %+FLAGS.SILENT %(\\Deleted%)\r\n$" },
      { reply = "OK stored" } })
    local search = "^A%d UID SEARCH HEADER \"Message%%-ID\" \"<a@x>\"\r\n$"
    local dst = fake.new{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n" },
      { recv = '^A1 LIST "" Archive\r\n$' },
      { send = '* LIST () "/" Archive\r\n' }, { reply = "OK listed" },
      { recv = "^A2 EXAMINE Archive\r\n$" },
      { send = "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
      { reply = "OK [READ-ONLY] examined" },
      { recv = search:format(3) }, { reply = "OK none" },
      { recv = "^A4 APPEND Archive %(\\Seen%) " .. esc(DATE) .. " {" ..
        #MSG .. "}\r\n" .. esc(MSG) .. "\r\n$" },
      { reply = "OK appended" },
      { recv = search:format(5) }, { send = "* SEARCH 7\r\n" },
      { reply = "OK found" },
      { recv = "^A6 UID FETCH 7 " },
      fetch_id(7, 1, "Message-ID: <a@x>\r\n\r\n"),
      { reply = "OK fetched" },
      { recv = "^A7 APPEND Archive %(%) " .. esc(DATE) },
      { reply = "OK appended" },
      { drain = true } }
    servers[#servers + 1] = dst
    local set = msgset.new{ { mailbox = src_acct:mailbox("INBOX"),
      uidvalidity = 42, uids = { 1, 2 } } }
    local dst_acct = account.new(dst:options{ name = "far" })
    accounts[#accounts + 1] = dst_acct
    assert.are.equal(1, actions.move(set, dst_acct:mailbox("Archive")))
    local _, scmds = sent(dst_acct, dst), sent(src_acct, src)
    assert.are.equal("done", dst:status())
    assert.are.equal("done", src:status())
    for _, c in ipairs(scmds) do assert.is_nil(c:find("EXPUNGE")) end
    assert.is_nil(dst:log():find("\nA8 ")) -- nothing after the APPENDs
    local e = plan.entries()[1]
    assert.are.same({ 1 }, e.uids)
    assert.are.equal("far", e.destination_account)
    assert.truthy(e.note:find("1 not confirmed", 1, true))
    assert.truthy(e.note:find("left marked \\Deleted", 1, true))
    assert.truthy(lines[#lines]:find("fake: moved 1 message INBOX -> " ..
      "far:Archive (uids 1)", 1, true))
  end)
end)
