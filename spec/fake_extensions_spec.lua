-- Specs for imapsift.extensions against the scripted fake server: the
-- exact bytes each command sends, the Lua shapes made from scripted
-- responses (THREAD nesting, ACL, QUOTA, METADATA, ANNOTATEMORE), the
-- commands Dovecot does not speak (ANNOTATEMORE, PROXYAUTH), and errors.
local fake = require "support.fake"
local util = require "support.util"

local CRLF = "\r\n"
local session = fake.session()

local ALL_CAPS = "IMAP4rev1 SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT " ..
  "ACL QUOTA METADATA ANNOTATEMORE"

-- start(steps [, caps]) -> imap, server: a PREAUTH session offering caps,
-- then steps (commands are tagged A1, A2, ...).
local function start(steps, caps)
  local all = { { send = "* PREAUTH [CAPABILITY " .. (caps or ALL_CAPS) ..
    "] logged in" .. CRLF } }
  for _, s in ipairs(steps) do all[#all + 1] = s end
  return session:start(all)
end

-- Closes the connection and returns every byte the client sent.
local function finish(imap, srv)
  imap:shutdown()
  assert.equal("done", srv:status())
  return srv:log()
end

-- An exchange: the client's exact line (CRLF added), then the server's
-- untagged lines and the tagged reply.
local function ex(line, untagged, reply)
  return { recv = "^" .. line:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0") ..
    "\r\n$" }, { send = untagged or "" }, { reply = reply or "OK done" }
end

-- steps(ex(...), ex(...), ...) -> the flattened array of steps
local function steps(...)
  local out = {}
  for _, group in ipairs{ ... } do
    for _, s in ipairs(group) do out[#out + 1] = s end
  end
  return out
end

local function X(...) return { ex(...) } end

-- selected(more) -> imap, server: SELECT INBOX first (A1, with 0
-- RECENT), then the steps in more (from A2 on).
local function selected(more)
  local s = steps(X("A1 SELECT INBOX",
    "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] x\r\n",
    "OK [READ-WRITE] selected"))
  for _, x in ipairs(more) do s[#s + 1] = x end
  local imap, srv = start(s)
  imap:select("INBOX")
  return imap, srv
end

local err_of = util.catch

after_each(function() session:cleanup() end)

describe("SORT", function()
  it("sends UID SORT with criteria, charset and search keys", function()
    local imap, srv = selected(steps(
      X("A2 UID SORT (REVERSE DATE) UTF-8 FROM \"bob\" UNSEEN",
        "* SORT 5 3 4\r\n"),
      X("A3 SORT (SUBJECT ARRIVAL) US-ASCII ALL", "* SORT 2 1\r\n"),
      X("A4 UID SORT (REVERSE ARRIVAL) UTF-8 ALL", "* SORT\r\n")))
    assert.same({ 5, 3, 4 }, imap:sort({ "REVERSE", "date" }, nil,
      { "FROM", "bob", "UNSEEN" }))
    assert.same({ 2, 1 }, imap:sort({ "SUBJECT", "ARRIVAL" }, "US-ASCII",
      "ALL", { seq = true }))
    -- imaplib's string form; an empty result is an empty array
    assert.same({}, imap:sort("(REVERSE ARRIVAL)", "UTF-8"))
    finish(imap, srv)
  end)

  it("is a usage error without the SORT capability, sending nothing",
      function()
    local imap, srv = start({ { drain = true } }, "IMAP4rev1")
    local err = err_of(imap.sort, imap, { "DATE" }, nil, "ALL")
    assert.equal("usage", err.kind)
    assert.matches("SORT", tostring(err))
    assert.equal("", finish(imap, srv))
  end)

  it("refuses bad criteria before sending", function()
    local imap, srv = start({ { drain = true } })
    assert.equal("usage", err_of(imap.sort, imap, { "DATE", "REVERSE" }).kind)
    assert.equal("usage", err_of(imap.sort, imap, {}).kind)
    assert.equal("usage", err_of(imap.sort, imap, { "DATE\r\nX" }).kind)
    assert.equal("usage", err_of(imap.sort, imap, { "DATE" }, "UTF 8").kind)
    assert.equal("usage", err_of(imap.sort, imap, { "DATE" }, nil,
      { "NOSUCHKEY" }).kind)
    assert.equal("", finish(imap, srv))
  end)
end)

describe("THREAD", function()
  it("keeps the tree shape of the THREAD response", function()
    local imap, srv = selected(steps(
      X("A2 UID THREAD REFERENCES UTF-8 ALL",
        "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"),
      X("A3 THREAD ORDEREDSUBJECT UTF-8 SUBJECT \"x\"",
        "* THREAD ((3)(5))\r\n"),
      X("A4 UID THREAD REFERENCES UTF-8 ALL", "* THREAD\r\n")))
    assert.same({ { 2 }, { 3, 6, { 4, 23 }, { 44, 7, 96 } } },
      imap:thread("REFERENCES", "UTF-8", "ALL"))
    -- a missing parent: a branch of two threads
    assert.same({ { { 3 }, { 5 } } }, imap:thread("orderedsubject", nil,
      { "SUBJECT", "x" }, { seq = true }))
    assert.same({}, imap:thread("REFERENCES"))
    finish(imap, srv)
  end)

  it("checks that the algorithm is offered", function()
    local imap, srv = start({ { drain = true } })
    local err = err_of(imap.thread, imap, "REFS", nil, "ALL")
    assert.equal("usage", err.kind)
    assert.matches("THREAD=REFS", tostring(err))
    assert.equal("", finish(imap, srv))
  end)

  it("a THREAD response holding anything but numbers is malformed",
      function()
    local imap, srv = selected(steps(
      X("A2 UID THREAD REFERENCES UTF-8 ALL", "* THREAD (1 \"x\")\r\n"),
      X("A3 UID THREAD REFERENCES UTF-8 ALL", "* THREAD 7\r\n")))
    assert.equal("protocol", err_of(imap.thread, imap, "REFERENCES").kind)
    assert.equal("protocol", err_of(imap.thread, imap, "REFERENCES").kind)
    finish(imap, srv)
  end)
end)

describe("ACL", function()
  it("getacl, setacl, deleteacl, myrights, listrights", function()
    local imap, srv = start(steps(
      X("A1 GETACL INBOX",
        "* ACL INBOX alice lrswipkxtecda bob lr 1234 l\r\n"),
      X("A2 SETACL INBOX bob lrs"),
      X("A3 SETACL &AMQ-rger \"Team A\" +w"),
      X("A4 DELETEACL INBOX bob"),
      X("A5 MYRIGHTS INBOX", "* MYRIGHTS INBOX lrs\r\n"),
      X("A6 LISTRIGHTS INBOX bob", "* LISTRIGHTS INBOX bob \"\" l r swi\r\n")))
    assert.same({ alice = "lrswipkxtecda", bob = "lr", ["1234"] = "l" },
      imap:getacl("INBOX"))
    assert.is_true(imap:setacl("INBOX", "bob", "lrs"))
    assert.is_true(imap:setacl("Ärger", "Team A", "+w"))
    assert.is_true(imap:deleteacl("INBOX", "bob"))
    assert.equal("lrs", imap:myrights("INBOX"))
    assert.same({ required = "", optional = { "l", "r", "swi" } },
      imap:listrights("INBOX", "bob"))
    finish(imap, srv)
  end)

  it("NO names the mailbox; bad rights are refused before sending",
      function()
    local imap, srv = start(steps(
      X("A1 GETACL Secret", nil, "NO [NOPERM] You lack the a right")))
    local err = err_of(imap.getacl, imap, "Secret")
    assert.equal("no", err.kind)
    assert.equal("NOPERM", err.code)
    assert.equal('GETACL on "Secret" failed: NO [NOPERM] You lack the a right',
      tostring(err))
    assert.equal("usage", err_of(imap.setacl, imap, "INBOX", "bob",
      "l r").kind)
    assert.equal("usage", err_of(imap.setacl, imap, "INBOX", "", "l").kind)
    assert.equal("usage", err_of(imap.getacl, imap, "").kind)
    assert.equal("A1 GETACL Secret\r\n", finish(imap, srv))
  end)

  it("a missing MYRIGHTS response is a protocol error", function()
    local imap, srv = start(steps(X("A1 MYRIGHTS INBOX")))
    assert.equal("protocol", err_of(imap.myrights, imap, "INBOX").kind)
    finish(imap, srv)
  end)

  it("ACL, QUOTA, METADATA, ANNOTATION and xatom changes are intercepted",
      function()
    local imap, srv = start({ { drain = true } })
    local seen = {}
    imap.intercept = function(info)
      seen[#seen + 1] = info
      return true
    end
    assert.is_true(imap:setacl("INBOX", "bob", "lr"))
    assert.is_true(imap:deleteacl("INBOX", "bob"))
    assert.is_true(imap:setquota("", { storage = 512 }))
    assert.is_true(imap:setmetadata("INBOX", { ["/private/comment"] = "x" }))
    assert.is_true(imap:setannotation("INBOX", "/comment",
      { ["value.priv"] = "x" }))
    assert.is_true(imap:xatom("XAPPLEPUSHSERVICE", "a"))
    assert.same({ "SETACL", 'SETACL on "INBOX" for "bob"', "INBOX", "bob",
      "lr" }, { seen[1].command, seen[1].what, seen[1].mailbox,
      seen[1].identifier, seen[1].rights })
    assert.same({ "DELETEACL", "INBOX", "bob" }, { seen[2].command,
      seen[2].mailbox, seen[2].identifier })
    assert.same({ "SETQUOTA", "", { STORAGE = 512 } }, { seen[3].command,
      seen[3].root, seen[3].limits })
    assert.same({ "SETMETADATA", "INBOX", { ["/private/comment"] = "x" } },
      { seen[4].command, seen[4].mailbox, seen[4].entries })
    assert.same({ "SETANNOTATION", "INBOX", "/comment" }, { seen[5].command,
      seen[5].mailbox, seen[5].entry })
    assert.same({ "XAPPLEPUSHSERVICE", "table" }, { seen[6].command,
      type(seen[6].args) })
    assert.equal("", finish(imap, srv))
  end)
end)

describe("QUOTA", function()
  it("getquota, getquotaroot, setquota", function()
    local imap, srv = start(steps(
      X('A1 GETQUOTA ""', '* QUOTA "" (STORAGE 10 512 MESSAGE 2 100)\r\n'),
      X("A2 GETQUOTAROOT INBOX", '* QUOTAROOT INBOX "" "User quota"\r\n' ..
        '* QUOTA "" (STORAGE 10 512)\r\n' ..
        '* QUOTA "User quota" (message 1 9)\r\n'),
      X('A3 SETQUOTA "User quota" (MESSAGE 10 STORAGE 1024)',
        '* QUOTA "User quota" (STORAGE 3 1024 MESSAGE 1 10)\r\n'),
      X('A4 SETQUOTA "" ()')))
    assert.same({ STORAGE = { usage = 10, limit = 512 },
      MESSAGE = { usage = 2, limit = 100 } }, imap:getquota(""))
    assert.same({ roots = { "", "User quota" }, quotas = {
      [""] = { STORAGE = { usage = 10, limit = 512 } },
      ["User quota"] = { MESSAGE = { usage = 1, limit = 9 } } } },
      imap:getquotaroot("INBOX"))
    assert.same({ STORAGE = { usage = 3, limit = 1024 },
      MESSAGE = { usage = 1, limit = 10 } },
      imap:setquota("User quota", { STORAGE = 1024, message = 10 }))
    assert.same({}, imap:setquota("", {}))
    finish(imap, srv)
  end)

  it("refuses bad limits; NO is an error naming the root", function()
    local imap, srv = start(steps(
      X('A1 SETQUOTA "" (STORAGE 1)', nil,
        "NO Quota can be changed only by admin")))
    assert.equal("usage",
      err_of(imap.setquota, imap, "", { STORAGE = -1 }).kind)
    assert.equal("usage", err_of(imap.setquota, imap, "", { "x" }).kind)
    local err = err_of(imap.setquota, imap, "", { STORAGE = 1 })
    assert.equal("no", err.kind)
    assert.equal('SETQUOTA of "" failed: NO Quota can be changed only by admin',
      tostring(err))
    finish(imap, srv)
  end)

  it("a resource list that is not name usage limit is malformed", function()
    local imap, srv = start(steps(
      X('A1 GETQUOTA ""', '* QUOTA "" (STORAGE 10)\r\n')))
    assert.equal("protocol", err_of(imap.getquota, imap, "").kind)
    finish(imap, srv)
  end)
end)

describe("METADATA", function()
  it("getmetadata with options, values as strings, NIL absent", function()
    local imap, srv = start(steps(
      X("A1 GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX " ..
        "(/private/comment /shared/comment)",
        "* METADATA INBOX (/private/comment {5}\r\nhello " ..
        "/shared/comment NIL)\r\n", "OK [METADATA LONGENTRIES 2000] done"),
      X('A2 GETMETADATA "" (/shared/admin)',
        '* METADATA "" (/shared/admin "mailto:a@b")\r\n')))
    local values, long = imap:getmetadata("INBOX",
      { "/private/comment", "/shared/comment" },
      { maxsize = 1024, depth = "infinity" })
    assert.same({ ["/private/comment"] = "hello" }, values)
    assert.equal(2000, long)
    local server, none = imap:getmetadata("", "/shared/admin")
    assert.same({ ["/shared/admin"] = "mailto:a@b" }, server)
    assert.is_nil(none)
    finish(imap, srv)
  end)

  it("setmetadata: sorted entries, false sent as NIL, literals", function()
    local imap, srv = start(steps(
      X('A1 SETMETADATA "" (/private/x "a b" /private/y NIL)'),
      { { recv = "^A2 SETMETADATA INBOX %(/private/z {5}\r\nl1\r\nl%)\r\n$" },
        { reply = "OK" } }))
    assert.is_true(imap:setmetadata("", { ["/private/y"] = false,
      ["/private/x"] = "a b" }))
    assert.is_true(imap:setmetadata("INBOX", { ["/private/z"] = "l1\r\nl" }))
    assert.equal('A1 SETMETADATA "" (/private/x "a b" /private/y NIL)\r\n' ..
      "A2 SETMETADATA INBOX (/private/z {5}\r\nl1\r\nl)\r\n",
      finish(imap, srv))
  end)

  it("refuses bad entries and options before sending", function()
    local imap, srv = start({ { drain = true } })
    assert.equal("usage",
      err_of(imap.getmetadata, imap, "INBOX", "comment").kind)
    assert.equal("usage", err_of(imap.getmetadata, imap, "INBOX", {}).kind)
    assert.equal("usage", err_of(imap.getmetadata, imap, "INBOX",
      "/private/x", { depth = 2 }).kind)
    assert.equal("usage", err_of(imap.setmetadata, imap, "INBOX",
      { ["/private/*"] = "x" }).kind)
    assert.equal("usage", err_of(imap.setmetadata, imap, "INBOX",
      { ["/private/x"] = true }).kind)
    assert.equal("", finish(imap, srv))
  end)

  it("NO from SETMETADATA names the mailbox", function()
    local imap, srv = start(steps(
      X('A1 SETMETADATA Foo (/private/x "1")', nil,
        "NO [METADATA TOOMANY] Too many annotations")))
    local err = err_of(imap.setmetadata, imap, "Foo", { ["/private/x"] = "1" })
    assert.equal("no", err.kind)
    assert.equal("METADATA", err.code)
    assert.matches('^SETMETADATA on "Foo" failed: NO %[METADATA%]',
      tostring(err))
    finish(imap, srv)
  end)
end)

describe("ANNOTATEMORE", function()
  it("getannotation: mailbox, entry, attribute tables", function()
    local imap, srv = start(steps(
      X('A1 GETANNOTATION INBOX "/comment" "value.priv"',
        '* ANNOTATION INBOX "/comment" ("value.priv" "My comment")\r\n'),
      X('A2 GETANNOTATION "*" ("/comment" "/vendor/x") ' ..
        '("value.priv" "value.shared")',
        '* ANNOTATION INBOX "/comment" ("value.priv" "a" ' ..
        '"value.shared" NIL)\r\n' ..
        '* ANNOTATION &AMQ-rger "/vendor/x" ("value.shared" {3}\r\nx y)\r\n' ..
        '* ANNOTATION INBOX "/vendor/x" ("value.priv" "b")\r\n')))
    assert.same(
      { INBOX = { ["/comment"] = { ["value.priv"] = "My comment" } } },
      imap:getannotation("INBOX", "/comment", "value.priv"))
    assert.same({
      INBOX = { ["/comment"] = { ["value.priv"] = "a" },
        ["/vendor/x"] = { ["value.priv"] = "b" } },
      ["Ärger"] = { ["/vendor/x"] = { ["value.shared"] = "x y" } },
    }, imap:getannotation("*", { "/comment", "/vendor/x" },
      { "value.priv", "value.shared" }))
    finish(imap, srv)
  end)

  it("setannotation sends the attribute list; false is NIL", function()
    local imap, srv = start(steps(
      X('A1 SETANNOTATION INBOX "/comment" ("value.priv" "new" ' ..
        '"value.shared" NIL)'),
      X('A2 SETANNOTATION INBOX "/comment" ("value.priv" "x")', nil,
        "NO [ANNOTATEMORE TOOBIG] too big")))
    assert.is_true(imap:setannotation("INBOX", "/comment",
      { ["value.shared"] = false, ["value.priv"] = "new" }))
    local err = err_of(imap.setannotation, imap, "INBOX", "/comment",
      { ["value.priv"] = "x" })
    assert.equal("no", err.kind)
    assert.matches('SETANNOTATION on "INBOX" failed: NO', tostring(err))
    assert.equal("usage", err_of(imap.setannotation, imap, "INBOX",
      "/comment", {}).kind)
    finish(imap, srv)
  end)
end)

describe("imaplib's other commands", function()
  it("proxyauth sends PROXYAUTH and returns the server's text", function()
    local imap, srv = start(steps(
      X("A1 PROXYAUTH bob", nil, "OK proxied to bob"),
      X("A2 PROXYAUTH eve", nil, "NO not allowed")))
    assert.equal("proxied to bob", imap:proxyauth("bob"))
    local err = err_of(imap.proxyauth, imap, "eve")
    assert.equal("no", err.kind)
    assert.equal('PROXYAUTH as "eve" failed: NO not allowed', tostring(err))
    finish(imap, srv)
  end)

  it("partial is a partial BODY.PEEK fetch returning the bytes", function()
    local imap, srv = selected(steps(
      X("A2 UID FETCH 5 (BODY.PEEK[TEXT]<0.10>)",
        "* 2 FETCH (FLAGS (\\Seen) UID 5 BODY[TEXT]<0> {10}\r\n" ..
        "0123456789)\r\n"),
      X("A3 UID FETCH 5 (BODY.PEEK[]<2.3>)",
        "* 2 FETCH (UID 5 BODY[]<2> {3}\r\nabc)\r\n"),
      X("A4 FETCH 1 (BODY.PEEK[1.2]<100.4>)",
        "* 1 FETCH (BODY[1.2]<100> \"\")\r\n"),
      X("A5 UID FETCH 9 (BODY.PEEK[HEADER]<0.1>)")))
    assert.equal("0123456789", imap:partial(5, "TEXT", 0, 10))
    assert.equal("abc", imap:partial(5, "RFC822", 2, 3)) -- imaplib's name
    assert.equal("", imap:partial(1, "1.2", 100, 4, { seq = true }))
    assert.is_nil(imap:partial(9, "BODY[HEADER]", 0, 1))
    assert.equal("usage", err_of(imap.partial, imap, 5, "TEXT", 0, 0).kind)
    assert.equal("usage", err_of(imap.partial, imap, 5, "TEXT]\r\n", 0, 1).kind)
    finish(imap, srv)
  end)

  it("recent: the RECENT already seen, else what a NOOP brings", function()
    local imap, srv = selected(steps(
      X("A2 NOOP", "* 4 EXISTS\r\n* 1 RECENT\r\n"),
      X("A3 NOOP")))
    assert.equal(0, imap:recent()) -- from SELECT, nothing sent
    assert.equal(1, imap:recent()) -- NOOP brought it
    assert.is_nil(imap:recent())   -- NOOP brought none
    assert.equal("A1 SELECT INBOX\r\nA2 NOOP\r\nA3 NOOP\r\n", finish(imap, srv))
  end)

  it("xatom sends an extension command and returns its responses",
      function()
    local imap, srv = start(steps(
      X('A1 XLIST "" *', '* XLIST (\\HasNoChildren) "/" INBOX\r\n',
        "OK listed"),
      X("A2 XFOO")))
    local tagged, untagged = imap:xatom("xlist", { qstr = "" }, { raw = "*" })
    assert.equal("OK", tagged.status)
    assert.equal("listed", tagged.text)
    assert.equal(1, #untagged)
    assert.equal("XLIST", untagged[1].type)
    assert.is_table(imap:xatom("XFOO"))
    assert.equal("usage", err_of(imap.xatom, imap, "X FOO").kind)
    assert.equal("usage", err_of(imap.xatom, imap, "XFOO", nil, "a").kind)
    finish(imap, srv)
  end)
end)
