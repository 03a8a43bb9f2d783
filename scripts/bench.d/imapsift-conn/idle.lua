-- Bench job idle with imapsift's connection object: connection B selects
-- "Idle" and waits in IDLE; connection A appends a small message there;
-- the latency runs from just before A's APPEND to B seeing the EXISTS.
-- A appends from B's idle callback (so B is in IDLE meanwhile); the first
-- message, appended before the IDLE, only starts the rounds and is not
-- timed. 10 rounds; prints the median.
local imapsift = require "imapsift"
local now = imapsift.core.monotonic
local env = os.getenv

local function connect()
  return imapsift.connect{ host = env("BENCH_HOST"),
    port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
    user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
end
local a <close> = connect()
local b <close> = connect()
local ROUNDS, BOX = 10, "Idle"

local function message(i)
  return ("From: bench@bench.example\r\nTo: bench@bench.example\r\n" ..
    "Subject: idle round %d\r\nMessage-ID: <idle.%d.%d@bench.example>\r\n" ..
    "\r\nround %d\r\n"):format(i, i, os.time(), i)
end

local exists = b:select(BOX).exists
a:append(BOX, message(0))
local latencies, t0 = {}, nil
local reason = b:idle(60, function(r)
  if r.type ~= "EXISTS" or r.n <= exists then return false end
  exists = r.n
  if t0 then latencies[#latencies + 1] = (now() - t0) * 1000 end
  if #latencies == ROUNDS then return true end
  t0 = now()
  a:append(BOX, message(#latencies + 1))
  return false
end)
assert(reason == "stopped", "IDLE saw " .. #latencies .. " of the rounds")
a:logout()
b:logout()

table.sort(latencies)
local median = (latencies[ROUNDS // 2] + latencies[ROUNDS // 2 + 1]) / 2
print(('RESULT {"rounds": %d, "latency_ms": %.2f}'):format(#latencies,
  median))
