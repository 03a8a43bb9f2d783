-- scripts/examples/rules_spec.lua: the example rules (rules.lua beside
-- this file) run against a test account filled by imapsift.testing; copy
-- both to start testing your own rules with busted.
local testing = require "imapsift.testing"
local imapsift = require "imapsift"
-- luacheck: std +busted

local USER = testing.user(4) -- this file's own user
local RULES = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "rules.lua"

local LUA_L = { ["List-Id"] = "Lua mailing list <lua-l.lists.lua.org>" }
local CROQUET = { ["List-Id"] = "Croquet <croquet.lists.example.org>" }
local NEWS = { ["List-Unsubscribe"] = "<https://news.example.com/u/1>" }
local SEEN = { "\\Seen" }

local INBOX = {
  { from = "Weekly <weekly@news.example.com>", subject = "This week",
    headers = NEWS },
  { from = "Deals <deals@news.example.com>", subject = "Big sale",
    headers = { ["List-Unsubscribe"] = NEWS["List-Unsubscribe"],
      ["List-Id"] = "Deals <deals.news.example.com>" } },
  { from = "roberto@example.org", subject = "[lua-l] closing upvalues",
    headers = LUA_L },
  { from = "roberto@example.org", subject = "[lua-l] goto", headers = LUA_L },
  { from = "queen@example.org", subject = "[croquet] Saturday",
    headers = CROQUET },
  { from = "shop@example.org", subject = "Your invoice 2024-02" },
  { from = "shop@example.org", subject = "Receipt for order 17" },
  { from = "bank@example.org", subject = "Invoiced charges explained" },
  { from = "hatter@example.org", subject = "Photos",
    body = ("0123456789abcdef\n"):rep(12000) }, -- about 200 kB
  { from = "old@example.org", subject = "Read in 2023", date = "2023-05-02",
    flags = SEEN },
  { from = "old@example.org", subject = "Read in 2024", date = "2024-03-09",
    flags = SEEN },
  { from = "old@example.org", subject = "Old, unread", date = "2024-03-10" },
  { from = "friend@example.org", subject = "Lunch?", flags = SEEN },
}

local LEFT = { "Your invoice 2024-02", "Receipt for order 17",
  "Invoiced charges explained", "Old, unread", "Lunch?" }

local function subjects(entries)
  local s = {}
  for _, e in ipairs(entries) do s[#s + 1] = e.subject end
  return s
end

-- Runs the rules once on a fresh account and logs it out, as imapsift
-- does at the end of a run.
local function run_rules()
  local account = testing.account(USER, { create = true })
  local ok, err = pcall(assert(loadfile(RULES)), account)
  account:logout()
  assert(ok, tostring(err))
end

describe("the example rules", function()
  before_each(function()
    testing.mailboxes(USER, { INBOX = INBOX })
    require("imapsift.plan").reset()
    require("imapsift.watch").reset()
    require("imapsift.state").discard()
  end)

  after_each(function()
    imapsift.dry_run(false)
    require("imapsift.state").discard()
  end)

  it("files newsletters by their unsubscribe header", function()
    run_rules()
    testing.assert_mailbox(USER, "Newsletters", { "This week", "Big sale" })
  end)

  it("files mailing lists by List-Id, one mailbox per list", function()
    run_rules()
    testing.assert_mailbox(USER, "Lists/lua-l",
      { "[lua-l] closing upvalues", "[lua-l] goto" })
    testing.assert_mailbox(USER, "Lists/croquet", { "[croquet] Saturday" })
  end)

  it("flags invoices and receipts, whole words only", function()
    run_rules()
    local flagged = {}
    for _, m in ipairs(testing.assert_mailbox(USER, "INBOX", LEFT)) do
      if testing.has_flag(m, "\\Flagged") then
        flagged[#flagged + 1] = m.subject
      end
    end
    table.sort(flagged)
    assert.same({ "Receipt for order 17", "Your invoice 2024-02" }, flagged)
  end)

  it("sets large messages apart", function()
    run_rules()
    testing.assert_mailbox(USER, "Large", { "Photos" })
  end)

  it("archives old read mail by year of arrival, not unread mail", function()
    run_rules()
    testing.assert_mailbox(USER, "Archive/2023", { "Read in 2023" })
    testing.assert_mailbox(USER, "Archive/2024", { "Read in 2024" })
    testing.assert_mailbox(USER, "INBOX", LEFT)
  end)

  it("asks --watch to wait for mail in INBOX", function()
    run_rules()
    local asked = {}
    for _, r in ipairs(require("imapsift.watch").requests()) do
      asked[#asked + 1] = r.mailbox
    end
    assert.same({ "INBOX" }, asked)
  end)

  it("plans every action in a dry run and changes nothing", function()
    imapsift.dry_run(true)
    run_rules()
    local planned = {}
    for _, e in ipairs(imapsift.plan()) do
      planned[#planned + 1] = e.rule .. ": " .. e.action .. " " .. e.count
    end
    table.sort(planned)
    assert.same({ "invoices: flag 2", "large mail: move 1",
      "mailing lists: move 1", "mailing lists: move 2",
      "newsletters: move 2", "old mail: move 1", "old mail: move 1" },
      planned)
    testing.assert_mailbox(USER, "INBOX", subjects(INBOX))
    assert.is_nil(testing.contents(USER, "Newsletters"))
  end)
end)
