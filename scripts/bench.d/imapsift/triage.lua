-- Bench job triage with imapsift's rules layer: mailing-list mail moves to
-- "Lists"; of the rest, subjects matching \b(invoice|receipt)\b get
-- \Flagged.
local imapsift = require "imapsift"
local env = os.getenv

local acct = imapsift.account{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local inbox = acct:mailbox(env("BENCH_MAILBOX"))

local moved = inbox:search{ header = { ["List-Id"] = "lists.example.org" } }
  :move_to(acct:mailbox("Lists"))
local bills = inbox:search{}:match("subject", [[\b(invoice|receipt)\b]], "i")
bills:flag("\\Flagged")

print(('RESULT {"moved": %d, "flagged": %d}'):format(moved, #bills))
