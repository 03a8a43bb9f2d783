-- Bench job incremental with imapsift's connection object: flag the
-- messages that arrived since the last run, remembering UIDVALIDITY and
-- UIDNEXT in a file of BENCH_WORK. An unchanged mailbox costs one STATUS;
-- the first run (and a new UIDVALIDITY) only records where it stands.
local imapsift = require "imapsift"
local env = os.getenv

local path = env("BENCH_WORK") .. "/conn-incremental.state"
local function load()
  local f = io.open(path)
  if not f then return nil end
  local v, n = f:read("n", "n")
  f:close()
  return v and n and { uidvalidity = v, uidnext = n }
end

local imap <close> = imapsift.connect{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local box = env("BENCH_MAILBOX")
local seen = load()
local st = imap:status(box, { "UIDNEXT", "UIDVALIDITY" })
local new = 0
if seen and seen.uidvalidity == st.uidvalidity and
    st.uidnext > seen.uidnext then
  imap:select(box)
  local uids = imap:search{ "UID", ("%d:*"):format(seen.uidnext) }
  -- n:* always matches the last message: keep only the new ones
  local fresh = {}
  for _, u in ipairs(uids) do
    if u >= seen.uidnext then fresh[#fresh + 1] = u end
  end
  if #fresh > 0 then
    imap:store(fresh, "+FLAGS", { "\\Flagged" }, { silent = true })
  end
  new = #fresh
end
imap:logout()
local f = assert(io.open(path, "w"))
f:write(("%d %d\n"):format(st.uidvalidity, st.uidnext))
f:close()

print(('RESULT {"new": %d}'):format(new))
