-- spec/criteria_spec.lua: searches from a table of named criteria
-- (lua/imapsift/criteria.lua), the key arrays they give and what the
-- private Dovecot finds with each of them.
local criteria = require "imapsift.criteria"
local dates = require "imapsift.dates"
local errors = require "imapsift.error"
local sets = require "support.sets"
-- Spare user 4, as in support/sets.lua; ctest locks the user per file.
local server = require "support.server"
server.as(4)

local keys = criteria.keys

describe("criteria.keys", function()
  it("gives ALL for an empty table", function()
    assert.same({ "ALL" }, keys{})
    assert.same({ "ALL" }, keys{ all = true })
  end)

  it("maps strings, flags and their negations", function()
    assert.same({ "FROM", "a@b", "SUBJECT", "x" }, keys{ subject = "x", from = "a@b" })
    assert.same({ "UNSEEN" }, keys{ seen = false })
    assert.same({ "UNSEEN" }, keys{ unseen = true })
    assert.same({ "FLAGGED" }, keys{ flagged = true })
    assert.same({ "NOT", "RECENT" }, keys{ recent = false })
    assert.same({ "KEYWORD", "a", "KEYWORD", "b" }, keys{ keyword = { "a", "b" } })
    assert.same({ "UNKEYWORD", "$Junk" }, keys{ unkeyword = "$Junk" })
  end)

  it("takes dates as Lua values and sizes as whole numbers", function()
    local t = dates.value("2024-02-01")
    assert.same({ "SENTSINCE", t, "SINCE", t },
      keys{ since = "2024-02-01", sent_since = t })
    assert.same({ "LARGER", 20000000 }, keys{ larger = 20e6 })
  end)

  it("nests any as ORs and none as NOT", function()
    assert.same({ { "OR", { "FROM", "a" }, { "OR", { "FROM", "b" }, { "SEEN" } } } },
      keys{ any = { { from = "a" }, { from = "b" }, { seen = true } } })
    assert.same({ "NOT", { "FROM", "a" } }, keys{ none = { from = "a" } })
    assert.same({ "NOT", { "FROM", "a" }, "NOT", { "SEEN" } },
      keys{ none = { { from = "a" }, { seen = true } } })
  end)

  it("passes header, uid and raw through", function()
    assert.same({ "HEADER", "List-Id", "lua-l" }, keys{ header = { ["List-Id"] = "lua-l" } })
    assert.same({ "UID", { 1, 2 } }, keys{ uid = { 1, 2 } })
    assert.same({ "UID", "3:9" }, keys{ uid = "3:9" })
    assert.same({ "YOUNGER", 60 }, keys{ raw = { "YOUNGER", 60 } })
  end)

  it("refuses unknown names and wrong values, naming them", function()
    for _, bad in ipairs{ { sender = "x" }, { seen = "yes" }, { larger = 1.5 },
        { since = "1-Feb-2024" }, { any = { from = "x" } }, { from = 3 } } do
      local ok, err = pcall(keys, bad)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "usage"), tostring(err))
      assert.truthy(tostring(err):find(next(bad), 1, true), tostring(err))
    end
  end)
end)

describe("criteria against Dovecot", function()
  local BOX = "r2-criteria"
  local acct, box, u

  setup(function()
    u = sets.fresh(BOX, {
      { from = "Ann <ann@news.example.com>", subject = "Weekly news",
        headers = { "List-Id: <weekly.example.com>", "Cc: carl@example.org" },
        date = "Mon, 1 Jan 2024 10:00:00 +0000",
        append_opts = { flags = { "\\Seen" }, date = "1-Jan-2024 10:00:00 +0000" } },
      { from = "Bob <bob@example.org>", subject = "Rechnung für März",
        body = "Bitte bezahlen: Grüße\n", date = "Thu, 1 Feb 2024 10:00:00 +0000",
        append_opts = { flags = { "\\Flagged", "$Bill" }, date = "1-Feb-2024 10:00:00 +0000" } },
      { from = "Cat <cat@example.org>", to = "team@example.org",
        subject = "big", body = ("x"):rep(5000) .. "\n",
        headers = { "Bcc: hidden@example.org" },
        append_opts = { flags = { "\\Answered", "\\Draft" }, date = "1-Mar-2024 10:00:00 +0000" } },
    })
    acct = sets.account()
    box = acct:mailbox(BOX)
  end)

  teardown(function()
    acct:logout()
    sets.drop(BOX)
  end)

  local function found(c) return box:search(c):uids() end

  it("finds by address, subject, body and text, non-ASCII included", function()
    assert.same({ u[1] }, found{ from = "@news.example.com" })
    assert.same({ u[3] }, found{ to = "team@" })
    assert.same({ u[1] }, found{ cc = "carl" })
    assert.same({ u[3] }, found{ bcc = "hidden" })
    assert.same({ u[2] }, found{ subject = "März" })
    assert.same({ u[2] }, found{ body = "Grüße" })
    assert.same({ u[2] }, found{ text = "bezahlen" })
    assert.same({ u[1] }, found{ header = { ["List-Id"] = "weekly" } })
  end)

  it("finds by flags, keywords and their negations", function()
    assert.same({ u[1] }, found{ seen = true })
    assert.same({ u[2], u[3] }, found{ seen = false })
    assert.same({ u[2] }, found{ flagged = true })
    assert.same({ u[3] }, found{ answered = true, draft = true })
    assert.same({ u[1], u[2] }, found{ draft = false })
    assert.same({}, found{ deleted = true })
    assert.same({ u[2] }, found{ keyword = "$Bill" })
    assert.same({ u[1], u[3] }, found{ unkeyword = "$Bill" })
    -- \Recent belongs to the session that saw the messages first.
    assert.equal(3, #found{ recent = true } + #found{ recent = false })
    assert.equal(3, #found{ old = true } + #found{ old = false })
    assert.same({}, found{ new = true, seen = true })
  end)

  it("finds by arrival and sent dates, size and UID", function()
    assert.same({ u[1] }, found{ before = "2024-01-15" })
    assert.same({ u[2], u[3] }, found{ since = dates.value("2024-01-15") })
    assert.same({ u[2] }, found{ on = "2024-02-01" })
    assert.same({ u[1], u[3] }, found{ sent_before = "2024-01-02" })
    assert.same({ u[1], u[2], u[3] }, found{ sent_since = "2023-12-31" })
    assert.same({ u[2] }, found{ sent_on = "2024-02-01" })
    assert.same({ u[3] }, found{ larger = 4000 })
    assert.same({ u[1], u[2] }, found{ smaller = 4000 })
    assert.same({ u[2], u[3] }, found{ uid = { u[2], u[3] } })
    assert.same({ u[2] }, found{ uid = u[2] })
    assert.same({ u[1], u[2] }, found{ uid = u[1] .. ":" .. u[2] })
  end)

  it("combines with any, none, all and raw", function()
    assert.same({ u[1], u[3] }, found{ any = { { from = "ann" }, { from = "cat" } } })
    assert.same({ u[1], u[2], u[3] },
      found{ any = { { from = "ann" }, { any = { { from = "bob" }, { from = "cat" } } } } })
    assert.same({ u[2] }, found{ none = { { from = "ann" }, { from = "cat" } } })
    assert.same({ u[1], u[2], u[3] }, found{ all = true })
    assert.same({ u[1], u[2], u[3] }, found{})
    assert.same({ u[3] }, found{ raw = { "LARGER", 4000 } })
    assert.same({ u[2] }, found{ "FROM", "bob" }) -- search.lua's array form
  end)
end)
