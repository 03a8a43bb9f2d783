-- Integration specs for imapsift.extensions against the private Dovecot:
-- SORT, THREAD, ACL, QUOTA, METADATA, partial, recent and xatom. Runs as
-- spare user 3 (erin); frank (spare user 4) is the second identity of
-- the ACL specs. Every capability used is checked first: a missing one
-- fails the file rather than skipping it.
local server = require "support.server"
local util = require "support.util"

server.as(3)
local frank = server.spare[4]

local NEEDED = { "SORT", "THREAD=REFERENCES", "ACL", "QUOTA", "METADATA" }

local imap

setup(function()
  imap = server.connect()
  local missing = {}
  for _, cap in ipairs(NEEDED) do
    if not imap.capabilities[cap] then missing[#missing + 1] = cap end
  end
  if #missing > 0 then
    error("the test Dovecot does not offer " .. table.concat(missing, ", ") ..
      ": check scripts/testserver.d/dovecot.conf.in", 0)
  end
  server.reset(imap)
end)

teardown(function()
  if imap then
    pcall(server.reset, imap)
    imap:logout()
  end
end)

-- A new mailbox holding messages (message{} tables, with internaldate
-- for APPEND's date); returns the UIDs, with the mailbox selected.
local function mailbox_with(name, messages)
  imap:create(name)
  local uids = {}
  for i, m in ipairs(messages) do
    uids[i] = server.append(imap, name, { m }, { date = m.internaldate })[1]
  end
  imap:select(name)
  return uids
end

local function run_id()
  return tostring(os.time()) .. "." .. tostring({}):match("0x(%x+)")
end

describe("SORT", function()
  local u
  setup(function()
    u = mailbox_with("Sorting", {
      { subject = "banana", date = "Wed, 3 Jan 2024 10:00:00 +0000",
        from = "Carl <carl@example.org>",
        internaldate = "05-Jan-2024 10:00:00 +0000" },
      { subject = "Re: apple", date = "Mon, 1 Jan 2024 10:00:00 +0000",
        from = "Bea <bea@example.org>",
        internaldate = "04-Jan-2024 10:00:00 +0000" },
      { subject = "cherry", date = "Tue, 2 Jan 2024 10:00:00 +0000",
        from = "Bea <bea@example.org>",
        internaldate = "06-Jan-2024 10:00:00 +0000" },
    })
  end)

  it("by SUBJECT (base subject, Re: ignored) and by DATE", function()
    assert.same({ u[2], u[1], u[3] }, imap:sort({ "SUBJECT" }, "UTF-8", "ALL"))
    assert.same({ u[2], u[3], u[1] }, imap:sort({ "DATE" }))
  end)

  it("REVERSE ARRIVAL, several keys, and a search", function()
    -- arrival (INTERNALDATE) order is 2, 1, 3
    assert.same({ u[2], u[1], u[3] }, imap:sort({ "ARRIVAL" }))
    assert.same({ u[3], u[1], u[2] }, imap:sort({ "REVERSE", "ARRIVAL" }))
    assert.same({ u[3], u[2], u[1] },
      imap:sort({ "FROM", "REVERSE", "DATE" }, nil, "ALL"))
    assert.same({ u[2], u[1] }, imap:sort({ "DATE" }, "UTF-8",
      { "NOT", "SUBJECT", "cherry" }))
  end)

  it("sequence numbers with seq", function()
    assert.same({ 2, 1, 3 }, imap:sort({ "SUBJECT" }, nil, "ALL",
      { seq = true }))
  end)
end)

describe("THREAD", function()
  local u
  setup(function()
    local id = run_id()
    local function mid(n) return ("<%s.%s@example.org>"):format(n, id) end
    local function msg(n, day, subject, parents)
      local headers = {}
      if parents then
        headers[1] = "In-Reply-To: " .. mid(parents[#parents])
        local refs = {}
        for i, p in ipairs(parents) do refs[i] = mid(p) end
        headers[2] = "References: " .. table.concat(refs, " ")
      end
      return { subject = subject, message_id = mid(n), headers = headers,
        date = ("Mon, %d Jan 2024 10:00:00 +0000"):format(day) }
    end
    u = mailbox_with("Threads", {
      msg("root", 1, "plans"),
      msg("reply1", 2, "Re: plans", { "root" }),
      msg("reply2", 3, "Re: plans", { "root", "reply1" }),
      msg("sibling", 4, "Re: plans", { "root" }),
      msg("other", 5, "unrelated"),
    })
  end)

  it("REFERENCES keeps the reply tree", function()
    assert.same({ { u[1], { u[2], u[3] }, { u[4] } }, { u[5] } },
      imap:thread("REFERENCES", "UTF-8", "ALL"))
  end)

  it("with a search and sequence numbers", function()
    assert.same({ { 4 }, { 5 } }, imap:thread("REFERENCES", nil,
      { "SENTSINCE", "4-Jan-2024" }, { seq = true }))
  end)

  it("ORDEREDSUBJECT: later messages are children of the first",
      function()
    assert.is_true(imap.capabilities["THREAD=ORDEREDSUBJECT"])
    assert.same({ { u[1], { u[2] }, { u[3] }, { u[4] } }, { u[5] } },
      imap:thread("ORDEREDSUBJECT"))
  end)
end)

describe("ACL", function()
  local box = "Shared-erin"
  setup(function()
    if imap.mailbox then imap:unselect() end
    imap:create(box)
  end)

  it("getacl and myrights show the owner's full rights", function()
    local acl = imap:getacl(box)
    assert.is_string(acl[server.user])
    assert.matches("a", acl[server.user])
    local mine = imap:myrights(box)
    for r in ("lrswipkxtea"):gmatch(".") do
      assert.truthy(mine:find(r, 1, true), "missing right " .. r)
    end
  end)

  it("setacl grants frank lookup and read; deleteacl takes it back",
      function()
    assert.is_true(imap:setacl(box, frank.user, "lr"))
    assert.equal("lr", imap:getacl(box)[frank.user])
    assert.is_true(imap:setacl(box, frank.user, "+s"))
    assert.equal("lrs", imap:getacl(box)[frank.user])
    local lr = imap:listrights(box, frank.user)
    assert.is_string(lr.required)
    local all = table.concat(lr.optional)
    assert.truthy(all:find("l", 1, true) and all:find("r", 1, true))
    assert.is_true(imap:deleteacl(box, frank.user))
    assert.is_nil(imap:getacl(box)[frank.user])
  end)

  it("frank cannot read erin's ACL: NO naming the mailbox", function()
    local other = server.connect{ user = frank.user, password = frank.password }
    local err = util.catch(other.getacl, other, box)
    other:logout()
    assert.equal("no", err.kind)
    assert.matches('^GETACL on "Shared%-erin" failed: NO', tostring(err))
  end)
end)

describe("QUOTA", function()
  -- scripts/testserver.d/dovecot.conf.in: storage=20M, messages=5000
  local ROOT = "User quota"

  local function message_count()
    local n = 0
    for _, mb in ipairs(imap:list("", "*")) do
      n = n + imap:status(mb.name, { "MESSAGES" }).messages
    end
    return n
  end

  it("getquotaroot INBOX reports the roots and the configured quota",
      function()
    local q = imap:getquotaroot("INBOX")
    assert.same({ ROOT }, q.roots)
    local res = q.quotas[ROOT]
    assert.same({ limit = 20 * 1024, usage = res.STORAGE.usage }, res.STORAGE)
    assert.equal(5000, res.MESSAGE.limit)
    assert.equal(message_count(), res.MESSAGE.usage)
  end)

  it("getquota of the root", function()
    local res = imap:getquota(ROOT)
    assert.equal(20 * 1024, res.STORAGE.limit)
    assert.equal(5000, res.MESSAGE.limit)
    assert.equal(message_count(), res.MESSAGE.usage)
  end)

  it("setquota by a user is refused by Dovecot: NO naming the root",
      function()
    local err = util.catch(imap.setquota, imap, ROOT, { STORAGE = 1024 })
    assert.equal("no", err.kind)
    assert.matches('^SETQUOTA of "User quota" failed: NO', tostring(err))
    assert.equal(20 * 1024, imap:getquota(ROOT).STORAGE.limit)
  end)
end)

describe("METADATA", function()
  local box = "Meta"
  setup(function() imap:create(box) end)

  it("setmetadata then getmetadata on a mailbox", function()
    assert.is_true(imap:setmetadata(box, { ["/private/comment"] = "hello",
      ["/shared/comment"] = "shared note" }))
    assert.same({ ["/private/comment"] = "hello",
      ["/shared/comment"] = "shared note" },
      imap:getmetadata(box, { "/private/comment", "/shared/comment" }))
    assert.is_true(imap:setmetadata(box, { ["/shared/comment"] = false }))
    assert.same({ ["/private/comment"] = "hello" },
      imap:getmetadata(box, { "/private/comment", "/shared/comment" }))
  end)

  it("depth and maxsize", function()
    imap:setmetadata(box, { ["/private/vendor/x"] = "1",
      ["/private/vendor/x/y"] = "long value" })
    assert.same({ ["/private/vendor/x"] = "1",
      ["/private/vendor/x/y"] = "long value" },
      imap:getmetadata(box, "/private/vendor", { depth = "infinity" }))
    local values, long = imap:getmetadata(box,
      { "/private/vendor/x", "/private/vendor/x/y" }, { maxsize = 3 })
    assert.same({ ["/private/vendor/x"] = "1" }, values)
    assert.equal(#"long value", long)
  end)

  it("server entries (mailbox \"\")", function()
    local note = "server note\r\nline two"
    assert.is_true(imap:setmetadata("", { ["/private/comment"] = note }))
    assert.same({ ["/private/comment"] = note },
      imap:getmetadata("", "/private/comment"))
    imap:setmetadata("", { ["/private/comment"] = false })
    assert.same({}, imap:getmetadata("", "/private/comment"))
  end)
end)

describe("partial, recent and xatom", function()
  local uid
  local BODY = "0123456789abcdef\r\n"
  setup(function()
    uid = mailbox_with("Partial", { { subject = "partial test",
      body = BODY } })[1]
  end)

  it("partial returns bytes of a section without setting \\Seen",
      function()
    assert.equal("From", imap:partial(uid, "", 0, 4))
    assert.equal("2345", imap:partial(uid, "TEXT", 2, 4))
    assert.equal("Subject: partial test\r\n\r\n",
      imap:partial(uid, "HEADER.FIELDS (SUBJECT)", 0, 200))
    assert.equal(BODY, imap:partial(uid, "RFC822.TEXT", 0, 1000))
    assert.equal("", imap:partial(uid, "TEXT", 1000, 10))
    assert.equal("01", imap:partial(1, "TEXT", 0, 2, { seq = true }))
    assert.is_nil(imap:partial(uid + 100, "TEXT", 0, 2))
    assert.same({ "\\Recent" }, imap:fetch(uid, { "FLAGS" })[1].flags)
  end)

  it("recent: the count from SELECT, then what NOOP brings", function()
    imap:create("Recent")
    server.fill(imap, "Recent", 2)
    imap:select("Recent")
    assert.equal(2, imap:recent())  -- from SELECT's untagged RECENT
    assert.is_nil(imap:recent())     -- a NOOP brought nothing new
    local other = server.connect()
    server.fill(other, "Recent", 1)
    other:logout()
    assert.equal(3, imap:recent())   -- a NOOP brought "* 3 RECENT"
  end)

  it("xatom sends a command and returns its responses", function()
    local tagged, untagged = imap:xatom("ID", "NIL")
    assert.equal("OK", tagged.status)
    assert.equal("ID", untagged[1].type)
    assert.equal("Dovecot", untagged[1].params.name)
    local err = util.catch(imap.xatom, imap, "XNOSUCHCOMMAND", { qstr = "" })
    assert.equal("bad", err.kind)
  end)
end)
