-- scripts/examples/rules.lua: an example rules file (newsletters to an
-- archive, invoices flagged, old read mail of a mailing list archived),
-- run as `imapsift rules.lua` and tested by rules_spec.lua.
local imapsift = require "imapsift"

local function rules(work)
  local inbox = work:mailbox("INBOX")

  imapsift.rule("newsletters", function()
    inbox:search{ from = "@news.example.com" }
      :move_to(work:mailbox("Archive/news"))
  end)

  -- The server narrows by substring; the regular expression keeps whole
  -- words only ("Invoiced charges" is not an invoice).
  imapsift.rule("invoices", function()
    local bills = inbox:search{ subject = "invoice" }
      + inbox:search{ subject = "receipt" }
    bills:match("subject", [[\b(invoice|receipt)\b]], "i"):flag("\\Flagged")
  end)

  imapsift.rule("old list mail", function()
    inbox:search{ header = { ["List-Id"] = "lua-l.lists.lua.org" },
      seen = true, before = imapsift.days_ago(30) }
      :move_to(work:mailbox("Lists/lua-l"))
  end)
end

-- A spec passes its test account in; run by the host, the script's
-- arguments are strings and it connects to the real account.
local work = ...
if type(work) ~= "table" then
  work = imapsift.account{ host = os.getenv("IMAP_HOST") or "imap.example.org",
    user = os.getenv("IMAP_USER") or os.getenv("USER"),
    password_command = "pass show mail/work", create = true }
end
rules(work)
work:logout()
