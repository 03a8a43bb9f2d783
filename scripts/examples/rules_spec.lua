-- scripts/examples/rules_spec.lua: the example rules (rules.lua beside
-- this file) run against a test account filled by imapsift.testing; copy
-- both to start testing your own rules with busted.
local testing = require "imapsift.testing"
-- luacheck: std +busted

local USER = testing.user(4) -- this file's own user
local RULES = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "rules.lua"

local LIST = { ["List-Id"] = "Lua mailing list <lua-l.lists.lua.org>" }

describe("the example rules", function()
  before_each(function()
    testing.mailboxes(USER, { INBOX = {
      { from = "Weekly <weekly@news.example.com>", subject = "This week" },
      { from = "Deals <deals@news.example.com>", subject = "Big sale" },
      { from = "shop@example.org", subject = "Your invoice 2024-02" },
      { from = "shop@example.org", subject = "Receipt for order 17" },
      { from = "bank@example.org", subject = "Invoiced charges explained" },
      { from = "roberto@example.org", subject = "[lua-l] old and read",
        date = "2024-01-10", flags = { "\\Seen" }, headers = LIST },
      { from = "roberto@example.org", subject = "[lua-l] old, unread",
        date = "2024-01-11", headers = LIST },
      { from = "roberto@example.org", subject = "[lua-l] new and read",
        flags = { "\\Seen" }, headers = LIST },
      { from = "friend@example.org", subject = "Lunch?" },
    } })
  end)

  it("files newsletters and old list mail, flags invoices", function()
    assert(loadfile(RULES))(testing.account(USER, { create = true }))
    testing.assert_mailbox(USER, "Archive/news", { "This week", "Big sale" })
    testing.assert_mailbox(USER, "Lists/lua-l", { "[lua-l] old and read" })
    local inbox = testing.assert_mailbox(USER, "INBOX", {
      "Your invoice 2024-02", "Receipt for order 17",
      "Invoiced charges explained", "[lua-l] old, unread",
      "[lua-l] new and read", "Lunch?" })
    local flagged = {}
    for _, m in ipairs(inbox) do
      if testing.has_flag(m, "\\Flagged") then
        flagged[#flagged + 1] = m.subject
      end
    end
    assert.same({ "Your invoice 2024-02", "Receipt for order 17" }, flagged)
  end)
end)
