-- Bench job scan with imapsift's rules layer: count the messages of
-- BENCH_MAILBOX per sender (the From header's first address, lowercased).
local imapsift = require "imapsift"
local env = os.getenv

-- BENCH_PARALLEL (optional): the account's parallel option, to compare
-- one connection with several; unset, the default.
local acct = imapsift.account{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD"),
  parallel = tonumber(env("BENCH_PARALLEL") or "") }

local messages, senders, distinct = 0, {}, 0
for msg in acct:mailbox(env("BENCH_MAILBOX")):search{}:each{ "from" } do
  messages = messages + 1
  local first = msg.from[1]
  if first then
    local a = first.address:lower()
    if not senders[a] then senders[a], distinct = true, distinct + 1 end
  end
end

print(('RESULT {"messages": %d, "senders": %d}'):format(messages, distinct))
