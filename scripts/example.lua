-- example.lua: a small rules file. It files mail from the boss into
-- "Boss", moves newsletters to "Newsletters" and flags invoices, each as
-- a named rule, then prints the run's summary. The demo (scripts/demo)
-- runs it against the private test server; point the IMAPSIFT_*
-- variables elsewhere to run it against your own account, and set
-- IMAPSIFT_DRY_RUN=1 to see what it would do without changing anything.

local imapsift = require "imapsift"
local plan = require "imapsift.plan"

local env = os.getenv
local mail = imapsift.account{
  name = "demo",
  host = env("IMAPSIFT_HOST") or "127.0.0.1",
  port = tonumber(env("IMAPSIFT_IMAPS_PORT") or "993"),
  tls = "implicit",
  ca_file = env("IMAPSIFT_CA"),
  user = env("IMAPSIFT_USER") or "alice",
  password = env("IMAPSIFT_PASSWORD"),
  create = true, -- destinations that do not exist yet are created
}
local inbox = mail.INBOX

imapsift.dry_run(env("IMAPSIFT_DRY_RUN") == "1")
plan.log = function(line) print("  " .. line) end

-- Prints one line per message of set, headers decoded to UTF-8.
local function show(set, why)
  for msg in set:each{ "from", "subject" } do
    local from = msg.from[1]
    print(("%-14s %-28s %s"):format(why,
      from and (from.name or from.address) or "?", msg.subject or ""))
  end
end

imapsift.rule("boss", function()
  local set = inbox:search{ from = "boss@example.org" }
  show(set, "from the boss")
  set:move_to("Boss")
end)

imapsift.rule("newsletters", function()
  local set = inbox:search{ header = { ["List-Unsubscribe"] = "" } }
  show(set, "newsletter")
  set:move_to("Newsletters")
end)

imapsift.rule("invoices", function()
  -- A server-side search narrows, a PCRE2 pattern decides.
  local set = inbox:search{ flagged = false }
    :match("subject", [[\b(invoice|receipt)\b]], "i")
  show(set, "invoice")
  set:flag("\\Flagged")
end)

local _, text = plan.summary()
print(text)
