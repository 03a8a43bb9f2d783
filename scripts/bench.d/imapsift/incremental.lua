-- Bench job incremental with imapsift's rules layer, run by the host on a
-- schedule: flag the messages that arrived since the last run
-- (inbox:new(), state under XDG_STATE_HOME; every message the first time).
local imapsift = require "imapsift"
local env = os.getenv

local acct = imapsift.account{ name = "bench", host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }

local new = acct:mailbox(env("BENCH_MAILBOX")):new()
new:flag("\\Flagged")

print(('RESULT {"new": %d}'):format(#new))
