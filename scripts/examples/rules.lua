-- rules.lua: an example rules file to copy to ~/.config/imapsift/rules.lua
-- (the file `imapsift` runs when given no script). Newsletters and mailing
-- lists are filed, invoices flagged, large mail set apart and old read
-- mail archived by year. Try it with `imapsift --dry-run` first; run it
-- unattended with `imapsift --watch` (see the README). rules_spec.lua
-- beside it runs it against a test account.
local imapsift = require "imapsift"

local LARGE = 150 * 1000 -- bytes; the demo's sample is 200 kB, 10e6 suits most
local OLD_DAYS = 180     -- read mail older than this is archived

-- Only the new part of a mailbox is looked at by most rules: inbox:new()
-- is the set of messages that arrived since the last run (all of them on
-- the first run), so each run stays cheap however large the INBOX grows.

-- The list's own name from a List-Id header ("Lua list <lua-l.lists.org>"
-- -> "lua-l"), kept to characters that are safe in a mailbox name.
local function list_name(list_id)
  local id = list_id:match("<([^>]+)>") or list_id
  local name = (id:match("^[^.]+") or id):gsub("[^%w%-_]", "_")
  return name ~= "" and name or nil
end

-- Moves each group of set's messages to the mailbox named by key(msg)
-- (nil: left alone); fields are what key reads.
local function move_grouped(account, mailbox, set, fields, key)
  local groups, names = {}, {}
  for msg in set:each(fields) do
    local name = key(msg)
    if name then
      if not groups[name] then names[#names + 1] = name; groups[name] = {} end
      table.insert(groups[name], msg.uid)
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    mailbox:search{ uid = groups[name] }:move_to(account:mailbox(name))
  end
end

local function rules(mail)
  local inbox = mail:mailbox("INBOX")
  inbox:watch() -- `imapsift --watch` runs the rules again when mail arrives

  -- Bulk mail that offers an unsubscribe link (RFC 2369), lists or not.
  imapsift.rule("newsletters", function()
    local news = inbox:new() * inbox:search{
      header = { ["List-Unsubscribe"] = "" } }
    news:move_to(mail:mailbox("Newsletters"))
  end)

  -- Discussion lists, one mailbox per list: Lists/<list name>. Bulk mail
  -- is left to the rule above, also in a dry run (where nothing moved).
  imapsift.rule("mailing lists", function()
    local lists = inbox:new() * inbox:search{ header = { ["List-Id"] = "" },
      none = { header = { ["List-Unsubscribe"] = "" } } }
    move_grouped(mail, inbox, lists, { "List-Id" }, function(msg)
      local name = list_name(msg:header("List-Id") or "")
      return name and ("Lists/" .. name)
    end)
  end)

  -- The server narrows by substring; the regular expression keeps whole
  -- words only ("Invoiced charges" is not an invoice).
  imapsift.rule("invoices", function()
    local bills = inbox:search{ subject = "invoice" }
      + inbox:search{ subject = "receipt" }
    local found = (inbox:new() * bills)
      :match("subject", [[\b(invoice|receipt)\b]], "i")
    found:flag("\\Flagged")
  end)

  -- Large messages (attachments, mostly) out of the way.
  imapsift.rule("large mail", function()
    local big = inbox:new() * inbox:search{ larger = LARGE }
    big:move_to(mail:mailbox("Large"))
  end)

  -- Mail gets old whether or not it is new to imapsift: this rule looks
  -- at the whole INBOX. Archive/<year of arrival>. What the rules above
  -- file is theirs, so that a dry run plans what a real run does.
  imapsift.rule("old mail", function()
    local old = inbox:search{ seen = true,
      before = imapsift.days_ago(OLD_DAYS), smaller = LARGE + 1,
      none = { { header = { ["List-Id"] = "" } },
        { header = { ["List-Unsubscribe"] = "" } } } }
    move_grouped(mail, inbox, old, { "date" }, function(msg)
      return "Archive/" .. os.date("!%Y", msg.date)
    end)
  end)
end

-- A spec passes its test account in; run by imapsift, the script's
-- arguments are strings and it connects to the account below. The
-- IMAPSIFT_* variables are those `scripts/testserver env` prints, so the
-- demo runs this file against the test server unchanged.
local mail = ...
if type(mail) ~= "table" then
  local env = os.getenv
  mail = imapsift.account{
    name = "mail",
    host = env("IMAPSIFT_HOST") or "imap.example.org",
    port = tonumber(env("IMAPSIFT_IMAPS_PORT") or "993"),
    tls = "implicit",
    ca_file = env("IMAPSIFT_CA"), -- nil: the system's certificate store
    user = env("IMAPSIFT_USER") or env("USER"),
    password = env("IMAPSIFT_PASSWORD"),
    -- Better than a password in the environment: a command printing it.
    -- Without either, imapsift asks on the terminal (once per run).
    -- password_command = "pass show mail/imap.example.org",
    create = true, -- destinations that do not exist yet are created
  }
end
rules(mail)
