-- Bench job scan with imapsift's connection object: count the messages of
-- BENCH_MAILBOX per sender (the From header's first address, lowercased),
-- streamed from one FETCH of the From header.
local imapsift = require "imapsift"
local headers = imapsift.headers
local env = os.getenv

local imap <close> = imapsift.connect{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
imap:examine(env("BENCH_MAILBOX"))

local ITEM = "HEADER.FIELDS (FROM)"
local messages, senders, distinct = 0, {}, 0
imap:fetch("1:*", { "BODY.PEEK[" .. ITEM .. "]" }, { each = function(m)
  messages = messages + 1
  local from = headers.parse(m.body[ITEM] or "").from
  local first = from and headers.addresses(from[1])[1]
  if first then
    local a = first.address:lower()
    if not senders[a] then senders[a], distinct = true, distinct + 1 end
  end
end })
imap:logout()

print(('RESULT {"messages": %d, "senders": %d}'):format(messages, distinct))
