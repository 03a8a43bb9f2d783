-- Bench job idle with imapsift's rules layer: the mailbox "Idle" is
-- watched (mailbox:watch(), waited on by imapsift.watch as --watch does:
-- a connection of its own, EXAMINEd and in IDLE); the account's connection
-- appends a small message there; the latency runs from just before the
-- APPEND to the watcher reporting news. 10 rounds; prints the median.
local imapsift = require "imapsift"
local now = imapsift.core.monotonic
local env = os.getenv

local acct = imapsift.account{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local box = acct:mailbox("Idle"):watch()
local ROUNDS = 10

local function message(i)
  return ("From: bench@bench.example\r\nTo: bench@bench.example\r\n" ..
    "Subject: idle round %d\r\nMessage-ID: <idle.%d.%d@bench.example>\r\n" ..
    "\r\nround %d\r\n"):format(i, i, os.time(), i)
end

local watchers = imapsift.watch.new()
watchers:update(imapsift.watch.requests())   -- in IDLE from here on
local imap = acct:conn()
local latencies = {}
for i = 1, ROUNDS do
  local t0 = now()
  if box.append then box:append{ message(i) }
  else imap:append(box.name, message(i)) end
  local news = watchers:wait(60)
  assert(#news == 1, "no news of round " .. i)
  latencies[i] = (now() - t0) * 1000
end
watchers:close()

table.sort(latencies)
local median = (latencies[ROUNDS // 2] + latencies[ROUNDS // 2 + 1]) / 2
print(('RESULT {"rounds": %d, "latency_ms": %.2f}'):format(#latencies,
  median))
