-- spec/message_spec.lua: reading message sets (lua/imapsift/message.lua)
-- in batches into decoded Messages, and set:match (lua/imapsift/match.lua)
-- with its server-side narrowing.
local msgset = require "imapsift.msgset"
local match = require "imapsift.match"
local errors = require "imapsift.error"
local sets = require "support.sets"
-- Spare user 4, as in support/sets.lua; ctest locks the user per file.
local server = require "support.server"
server.as(4)

describe("match.literal_word", function()
  local lw = match.literal_word
  it("finds a word every match must contain", function()
    assert.equal("invoice", lw([[\binvoice\b]]))
    assert.equal("receipt", lw([[^Re: receipt \d+]]))
    assert.equal("invoice", lw("invoices?"))
    assert.equal("letter", lw("newsy?letter"))
    assert.equal("letter", lw([[[Nn]ews(letter)+]]))
    assert.equal("ews", lw([[[Nn]ews\d]]))
  end)
  it("gives nothing when no word is certain", function()
    assert.is_nil(lw([[\b(invoice|receipt)\b]]))
    assert.is_nil(lw("(invoice)?"))
    assert.is_nil(lw("(?i)abc"))
    assert.is_nil(lw("(*UTF)x"))
    assert.is_nil(lw([[\p{Latin}+]]))
    assert.is_nil(lw([[\x4abc]]))
    assert.is_nil(lw("[abcdef]+"))
    assert.is_nil(lw("ab"))
    assert.is_nil(lw("abc def", "x"))
  end)
end)

describe("reading message sets", function()
  local BOX = "r2-message"
  local acct, box, u, lines

  local MULTIPART = table.concat({
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>",
    "To: a@example.org, \"Team, All\" <team@example.org>",
    "Subject: =?UTF-8?B?w6l0w6k=?= report",
    "Date: Tue, 2 Jan 2024 09:30:00 +0100",
    "Message-ID: <multi@example.org>",
    "List-Id: Lua list <lua-l.lists.lua.org>",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=XX",
    "",
    "--XX",
    "Content-Type: text/plain",
    "",
    "first part",
    "--XX",
    "Content-Type: text/plain",
    "",
    "second part",
    "--XX--",
    "" }, "\r\n")

  setup(function()
    local list = { MULTIPART }
    for i = 2, 7 do
      list[i] = { subject = (i % 2 == 0) and ("Invoice %d"):format(i) or
        ("receipt %d"):format(i), message_id = ("<m%d@example.org>"):format(i) }
    end
    u = sets.fresh(BOX, list)
    acct = sets.account()
    box = acct:mailbox(BOX)
    lines = sets.traced(acct)
  end)

  teardown(function()
    acct:logout()
    sets.drop(BOX)
  end)

  it("streams decoded messages in batches that grow from msgset.BATCH", function()
    local old, old_max = msgset.BATCH, msgset.MAX_BATCH
    msgset.BATCH, msgset.MAX_BATCH = 1, 4 -- 7 messages: 1, 2, 4
    local got = {}
    local ok, err = pcall(function()
      for m in box:select_all():each{ "from", "subject", "date", "size", "flags" } do
        got[#got + 1] = m
      end
    end)
    msgset.BATCH, msgset.MAX_BATCH = old, old_max
    assert(ok, tostring(err))
    assert.equal(7, #got)
    local fetches = 0
    for _, l in ipairs(lines) do
      if l:find("UID FETCH", 1, true) then fetches = fetches + 1 end
    end
    assert.equal(3, fetches)
    local m = got[1]
    assert.equal(u[1], m.uid)
    assert.equal("été report", m.subject)
    assert.equal("andre@example.org", m.from[1].address)
    assert.equal("André", m.from[1].name)
    assert.equal("number", math.type(m.date) and "number")
    assert.is_true(m.size > 100)
    assert.equal("table", type(m.flags))
    assert.equal("Invoice 2", got[2].subject)
    assert.equal(box, got[2].mailbox)
  end)

  it("fetches other headers, body and parts on demand", function()
    local m = box:search{ uid = u[1] }:messages{ "subject" }[1]
    assert.equal("Lua list <lua-l.lists.lua.org>", m:header("List-Id"))
    assert.equal(2, #m.to)
    assert.equal("Team, All", m.to[2].name)
    assert.equal("<multi@example.org>", m.message_id)
    assert.equal(os.time{ year = 2024, month = 1, day = 2, hour = 8, min = 30,
      sec = 0, isdst = false } - os.time{ year = 1970, month = 1, day = 1,
      hour = 0, isdst = false }, m.sent)
    assert.equal("first part", m:part(1))
    assert.equal("second part", m:part("2"))
    local parts = m:parts()
    assert.equal(2, #parts)
    assert.same({ "1", "text/plain" }, { parts[1].section, parts[1].type })
    assert.equal("2", parts[2].section)
    assert.equal("second part", m:part(parts[2].section))
    assert.equal("multipart", m:structure().type)
    assert.truthy(m:body():find("--XX", 1, true))
    assert.truthy(m:message():find("MIME-Version", 1, true))
    assert.is_nil(m:header("X-Missing"))
    assert.same({}, m.bcc)
    assert.is_nil(m.reply_to[1])
    local ok, err = pcall(m.part, m, "1..2")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
  end)

  it("matches a decoded header with PCRE2, narrowed by a server search", function()
    for i = #lines, 1, -1 do lines[i] = nil end
    local all = box:select_all()
    local s = all:match("subject", [[^invoice \d$]], "i")
    assert.same({ u[2], u[4], u[6] }, s:uids())
    local narrowed = false
    for _, l in ipairs(lines) do
      if l:find('HEADER SUBJECT "invoice"', 1, true) or
          l:find("HEADER Subject invoice", 1, true) or
          l:find('HEADER "Subject" "invoice"', 1, true) then narrowed = true end
    end
    assert.is_true(narrowed, table.concat(lines, "\n"))
    assert.same({ u[1] }, all:match("subject", "^été"):uids())
    assert.same({ u[3], u[5], u[7] },
      all:match("subject", [[\b(invoice|receipt)\b]]):uids())
    assert.same({ u[1] }, all:match("List-Id", "lua-l"):uids())
    assert.same({ u[1] }, all:match("from", "André"):uids())
  end)

  it("decodes addresses alike from one field, several, or the whole header",
  function()
    local other = acct:mailbox(BOX .. "-shapes")
    sets.fresh(other.name, { table.concat({
      "From: =?UTF-8?B?Sm9zw6kg?=\r\n =?UTF-8?B?TcO8bGxlcg==?= <jose@ex.org>",
      'To: "Doe, John" <john@ex.org>, Mary (a comment) <mary@ex.org>',
      "To: undisclosed-recipients:;, Ed <ed@ex.org>",
      "Cc: =?utf-8?q?=FF?= <bad@ex.org>,\r\n\tplain@ex.org",
      "Reply-To: \"Rita, R.\" <rita@ex.org>",
      "Subject: shapes", "", "body", "" }, "\r\n") })
    local function shape(list)
      local out = {}
      for i, a in ipairs(list) do out[i] = { a.name or false, a.address } end
      return out
    end
    local ok, err = pcall(function()
      local want = {
        from = { { "José Müller", "jose@ex.org" } },
        to = { { "Doe, John", "john@ex.org" }, { "Mary", "mary@ex.org" },
          { "Ed", "ed@ex.org" } },
        cc = { { "=?utf-8?q?=FF?=", "bad@ex.org" }, { false, "plain@ex.org" } },
        reply_to = { { "Rita, R.", "rita@ex.org" } },
      }
      for _, fields in ipairs{ { "from" }, { "to" }, { "cc" }, { "reply_to" },
          { "from", "to", "cc" }, {} } do
        local m = other:select_all():messages(fields)[1]
        for name, list in pairs(want) do
          assert.same(list, shape(m[name]), name)
        end
      end
    end)
    sets.drop(other.name)
    assert(ok, tostring(err))
  end)

  it("reads and matches sets spanning several mailboxes", function()
    local other = acct:mailbox(BOX .. "-2")
    local u2 = sets.fresh(other.name, { { subject = "Invoice 9" } })
    local ok, err = pcall(function()
      local both = box:search{ subject = "invoice" } + other:select_all()
      local subjects = {}
      for m in both:each{ "subject" } do
        subjects[#subjects + 1] = m.mailbox.name .. ":" .. m.subject
      end
      assert.same({ BOX .. ":Invoice 2", BOX .. ":Invoice 4",
        BOX .. ":Invoice 6", BOX .. "-2:Invoice 9" }, subjects)
      local m = both:match("subject", "[69]$")
      assert.equal(2, #m)
      assert.same(u2, (m - box:select_all()):uids())
    end)
    sets.drop(other.name)
    assert(ok, tostring(err))
  end)
end)
