-- grammar_spec.lua: nothing becomes syntax by accident. Against the
-- scripted fake server, the exact bytes the commands send: flags, fetch
-- items, status items, ENABLE names and search keywords are checked by
-- their grammar (a bad one raises kind "usage" naming it and sends
-- nothing), text such as a subject always travels as one quoted string
-- or literal, { raw = } is the only way to send syntax, and RFC 6855's
-- UTF8 form of APPEND once UTF8=ACCEPT is enabled.
local fake = require "support.fake"
local util = require "support.util"

local CRLF = "\r\n"
local session = fake.session()
local err_of = util.catch

after_each(function() session:cleanup() end)

-- A Lua pattern matching exactly line (CRLF added).
local function exactly(line)
  return "^" .. line:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0") .. CRLF .. "$"
end

-- selected(steps [, caps]) -> imap, srv: PREAUTH offering caps, SELECT
-- INBOX as A1, then steps.
local function selected(steps, caps)
  local all = {
    { send = "* PREAUTH [CAPABILITY " .. (caps or "IMAP4rev1 UIDPLUS") ..
      "] ready" .. CRLF },
    { recv = exactly("A1 SELECT INBOX") },
    { send = "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
    { reply = "OK [READ-WRITE] selected" },
  }
  for _, s in ipairs(steps) do all[#all + 1] = s end
  local imap, srv = session:start(all)
  imap:select("INBOX")
  return imap, srv
end

-- authed(steps [, caps]) -> imap, srv: PREAUTH offering caps, then steps
-- (the first command is A1).
local function authed(steps, caps)
  local all = { { send = "* PREAUTH [CAPABILITY " ..
    (caps or "IMAP4rev1 ENABLE UTF8=ACCEPT") .. "] ready" .. CRLF } }
  for _, s in ipairs(steps) do all[#all + 1] = s end
  return session:start(all)
end

-- The client's bytes once the connection is closed.
local function sent(imap, srv)
  return session.finish(imap, srv)
end

-- usage_error(fn, ...) -> the error fn raised, which must be kind usage.
local function usage_error(...)
  local err = err_of(...)
  assert.equal("usage", err.kind, tostring(err))
  return err
end

describe("flags", function()
  it("refuses a flag with a space and sends nothing", function()
    local imap, srv = selected{}
    local err = usage_error(imap.store, imap, { 1, 2 }, "+FLAGS",
      { "\\Seen", "news \\Deleted" })
    assert.matches("flags%[2%]", err.text)
    assert.matches('"news \\Deleted"', err.text, 1, true)
    assert.equal("STORE +FLAGS", err.command)
    assert.equal("A1 SELECT INBOX\r\n", sent(imap, srv))
  end)

  it("refuses \\* and other non-flags in STORE and APPEND", function()
    local imap, srv = selected{}
    for _, bad in ipairs{ "\\*", "(\\Seen)", "a]", "", "x\r\ny", "\\" } do
      usage_error(imap.store, imap, 1, "FLAGS", { bad })
      usage_error(imap.append, imap, "INBOX", "m\r\n", { flags = { bad } })
    end
    assert.matches("flags%[1%]",
      usage_error(imap.store, imap, 1, "+FLAGS", "a b").text)
    assert.equal("A1 SELECT INBOX\r\n", sent(imap, srv))
  end)

  it("sends valid flags, system and keyword, as they are", function()
    local imap, srv = selected{
      { recv = exactly("A2 UID STORE 1:2,9 +FLAGS.SILENT (\\Seen $Label1 " ..
        "NonJunk)") }, { reply = "OK" },
      { recv = "^A3 APPEND INBOX %(\\Draft \\X%-Ext%) {3}\r\nm\r\n\r\n$" },
      { reply = "OK" } }
    imap:store({ 9, 1, 2 }, "+FLAGS.SILENT", { "\\Seen", "$Label1", "NonJunk" })
    imap:append("INBOX", "m\r\n", { flags = { "\\Draft", "\\X-Ext" } })
    sent(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("fetch, status and enable", function()
  it("refuses a fetch item outside the fetch-att grammar", function()
    local imap, srv = selected{}
    local err = usage_error(imap.fetch, imap, { 1 },
      { "FLAGS", "BODY[HEADER.FIELDS (X)] \\Deleted" })
    assert.matches("fetch item 2", err.text)
    for _, bad in ipairs{ "FLAGS)", "BODY[", "BODY[]<0.0>", "FOO",
        "(FLAGS UID)", "BODY.PEEK", "BINARY[TEXT]" } do
      assert.matches("fetch item 1", usage_error(imap.fetch, imap, 1,
        { bad }).text)
    end
    assert.equal("A1 SELECT INBOX\r\n", sent(imap, srv))
  end)

  it("sends valid fetch items as they are and expands a macro", function()
    local imap, srv = selected{
      { recv = exactly("A2 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS " ..
        "(SUBJECT \"X-Odd)Name\")]<0.100> BINARY.SIZE[1])") },
      { reply = "OK" },
      { recv = exactly("A3 UID FETCH 4 (FLAGS INTERNALDATE RFC822.SIZE " ..
        "ENVELOPE)") }, { reply = "OK" } }
    imap:fetch("1:*", { "UID",
      'BODY.PEEK[HEADER.FIELDS (SUBJECT "X-Odd)Name")]<0.100>',
      "BINARY.SIZE[1]" })
    imap:fetch(4, "ALL")
    sent(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("refuses a status item that is not a status-att name", function()
    local imap, srv = selected{
      { recv = exactly("A2 STATUS INBOX (MESSAGES UIDNEXT SIZE)") },
      { send = "* STATUS INBOX (MESSAGES 3 UIDNEXT 9 SIZE 10)\r\n" },
      { reply = "OK" } }
    local err = usage_error(imap.status, imap, "INBOX",
      { "MESSAGES", "UNSEEN) (X" })
    assert.matches("status item 2", err.text)
    usage_error(imap.status, imap, "INBOX", { "" })
    usage_error(imap.status, imap, "INBOX", {})
    local st = imap:status("INBOX", { "messages", "UidNext", "SIZE" })
    assert.equal(9, st.uidnext)
    sent(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("refuses an ENABLE name that is not an atom", function()
    local imap, srv = authed{
      { recv = exactly("A1 ENABLE CONDSTORE UTF8=ACCEPT") },
      { send = "* ENABLED CONDSTORE\r\n" }, { reply = "OK" } }
    local err = usage_error(imap.enable, imap, "CONDSTORE",
      "UTF8=ACCEPT QRESYNC")
    assert.matches("capability 2", err.text)
    usage_error(imap.enable, imap, { "X)" })
    usage_error(imap.enable, imap)
    assert.same({ "CONDSTORE" }, imap:enable("CONDSTORE", "UTF8=ACCEPT"))
    sent(imap, srv)
    assert.equal("done", srv:status())
  end)
end)

describe("search values", function()
  it("refuses a keyword that is not an atom, naming KEYWORD", function()
    local imap, srv = selected{}
    for _, bad in ipairs{ "a b", "\\Seen", "x)", "$J*" } do
      local err = usage_error(imap.search, imap, { "KEYWORD", bad })
      assert.matches("KEYWORD", err.text)
    end
    usage_error(imap.search, imap, { "UNKEYWORD", "ok", "KEYWORD", "(" })
    assert.equal("A1 SELECT INBOX\r\n", sent(imap, srv))
  end)

  it("sends a subject with spaces, quotes and specials as one value",
    function()
      local subject = 'Re: "hi" (\\Deleted) {5} * % ] OR ALL'
      local imap, srv = selected{
        { recv = exactly('A2 UID SEARCH SUBJECT "Re: \\"hi\\" ' ..
          '(\\\\Deleted) {5} * % ] OR ALL" KEYWORD $Junk') },
        { send = "* SEARCH 4\r\n" }, { reply = "OK" },
        -- a CR or LF forces a literal: still one value
        { recv = "^A3 UID SEARCH FROM {9}\r\na\r\nb OR c UID 1:%*\r\n$" },
        { send = "* SEARCH\r\n" }, { reply = "OK" } }
      assert.same({ 4 }, imap:search{ "SUBJECT", subject, "KEYWORD", "$Junk" })
      assert.same({}, imap:search{ "FROM", "a\r\nb OR c", "UID", "1:*" })
      sent(imap, srv)
      assert.equal("done", srv:status())
    end)
end)

describe("command() and xatom()", function()
  it("send plain strings as one value and { raw = } verbatim", function()
    local imap, srv = selected{
      { recv = exactly('A2 XLIST "" *') }, { reply = "OK" },
      { recv = exactly('A3 XLIST "" "*"') }, { reply = "OK" },
      { recv = exactly('A4 UID STORE 1:* "+FLAGS (\\\\Deleted)"') },
      { reply = "BAD no" },
      { recv = exactly("A5 UID STORE 1:* +FLAGS (\\Deleted)") },
      { reply = "OK" } }
    assert.equal("OK", imap:command("XLIST",
      { { qstr = "" }, { raw = "*" } }).status)
    imap:xatom("XLIST", { qstr = "" }, "*")
    assert.equal("bad", err_of(imap.command, imap, "UID STORE",
      { { seqset = "1:*" }, "+FLAGS (\\Deleted)" }).kind)
    imap:command("UID STORE", { { seqset = "1:*" }, { raw = "+FLAGS" },
      { { flag = "\\Deleted" } } })
    sent(imap, srv)
    assert.equal("done", srv:status())
  end)

  it("refuses raw text that would end the line or fake a literal",
    function()
      local imap, srv = selected{}
      assert.matches("CR, LF or NUL", usage_error(imap.command, imap, "X",
        { { raw = "a\r\nA9 DELETE INBOX" } }).text)
      assert.matches("literal marker", usage_error(imap.command, imap, "X",
        { { raw = "{5}" } }).text)
      -- an open quote would swallow the next literal's header as text
      assert.matches("quoted string open", usage_error(imap.command, imap,
        "X", { { raw = '"abc' }, { literal = "\r\nA9 DELETE INBOX" } }).text)
      assert.equal("A1 SELECT INBOX\r\n", sent(imap, srv))
    end)
end)

describe("APPEND with UTF8=ACCEPT (RFC 6855)", function()
  local MSG = "Subject: Gr\195\188\195\159e\r\n\r\nbody\r\n"

  -- ENABLE UTF8=ACCEPT as A1, then steps.
  local function enabled(steps, caps)
    local all = { { recv = exactly("A1 ENABLE UTF8=ACCEPT") },
      { send = "* ENABLED UTF8=ACCEPT\r\n" }, { reply = "OK" } }
    for _, s in ipairs(steps) do all[#all + 1] = s end
    local imap, srv = authed(all, caps)
    imap:enable("UTF8=ACCEPT")
    assert.is_true(imap.utf8)
    return imap, srv
  end

  it("sends an 8-bit header as UTF8 (~{n}...)", function()
    local imap, srv = enabled{
      { recv = "^A2 APPEND INBOX UTF8 %(~{" .. #MSG .. "}\r\n" },
      { reply = "OK [APPENDUID 7 5] done" },
      { recv = "^A3 APPEND INBOX {12}\r\n" }, { reply = "OK" } }
    imap:append("INBOX", MSG)
    imap:append("INBOX", "Subject: a\r\n") -- ASCII: the plain form
    assert.equal("A1 ENABLE UTF8=ACCEPT\r\n" ..
      "A2 APPEND INBOX UTF8 (~{" .. #MSG .. "}\r\n" .. MSG .. ")\r\n" ..
      "A3 APPEND INBOX {12}\r\nSubject: a\r\n\r\n", sent(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("uses ~{n+} with LITERAL+ and keeps flags before UTF8", function()
    local imap, srv = enabled({
      { recv = "^A2 APPEND INBOX %(\\Seen%) UTF8 %(~{" .. #MSG .. "%+}\r\n" },
      { reply = "OK" } }, "IMAP4rev1 ENABLE LITERAL+ UTF8=ACCEPT")
    imap:append("INBOX", MSG, { flags = { "\\Seen" } })
    assert.equal("A1 ENABLE UTF8=ACCEPT\r\nA2 APPEND INBOX (\\Seen) UTF8 " ..
      "(~{" .. #MSG .. "+}\r\n" .. MSG .. ")\r\n", sent(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("sends the plain literal before UTF8=ACCEPT is enabled", function()
    local imap, srv = selected{
      { recv = "^A2 APPEND INBOX {" .. #MSG .. "}\r\n" }, { reply = "OK" } }
    imap:append("INBOX", MSG)
    assert.equal("A1 SELECT INBOX\r\nA2 APPEND INBOX {" .. #MSG .. "}\r\n"
      .. MSG .. "\r\n", sent(imap, srv))
  end)
end)
