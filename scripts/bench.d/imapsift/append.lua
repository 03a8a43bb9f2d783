-- Bench job append with imapsift's rules layer: every file of
-- BENCH_APPEND_DIR, in name order, appended to BENCH_APPEND_MAILBOX
-- without flags (mailbox:append; a loop of appends before it existed).
local imapsift = require "imapsift"
local env = os.getenv

local acct = imapsift.account{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local bulk = acct:mailbox(env("BENCH_APPEND_MAILBOX"))

local dir = env("BENCH_APPEND_DIR")
local names = {}
for i = 1, tonumber(env("BENCH_APPEND_COUNT")) do
  names[i] = ("%s/%06d.eml"):format(dir, i)
end
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local appended = 0
if bulk.append then
  local messages = {}
  for i, path in ipairs(names) do messages[i] = slurp(path) end
  appended = #bulk:append(messages)
else
  local imap = acct:conn()
  for _, path in ipairs(names) do
    imap:append(bulk.name, slurp(path))
    appended = appended + 1
  end
end

print(('RESULT {"appended": %d}'):format(appended))
