-- Bench job append with imapsift's connection object: every file of
-- BENCH_APPEND_DIR, in name order, appended to BENCH_APPEND_MAILBOX without
-- flags (imap:append_many; a loop of appends where it does not exist yet).
local imapsift = require "imapsift"
local env = os.getenv

local imap <close> = imapsift.connect{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local box, dir = env("BENCH_APPEND_MAILBOX"), env("BENCH_APPEND_DIR")

local messages = {}
for i = 1, tonumber(env("BENCH_APPEND_COUNT")) do
  local f = assert(io.open(("%s/%06d.eml"):format(dir, i), "rb"))
  messages[i] = f:read("a")
  f:close()
end

local appended = 0
if imap.append_many then
  appended = #imap:append_many(box, messages)
else
  for _, m in ipairs(messages) do
    imap:append(box, m)
    appended = appended + 1
  end
end
imap:logout()

print(('RESULT {"appended": %d}'):format(appended))
