-- mailbox-counts.lua: prints how many messages (and how many unread) each
-- mailbox of the IMAPSIFT_* account holds, one line per mailbox in name
-- order. The demo runs it with imapsift after the rules, to show where
-- the mail went; it changes nothing (STATUS only).
local imapsift = require "imapsift"

local env = os.getenv
local mail = imapsift.account{
  name = "counts",
  host = env("IMAPSIFT_HOST") or "127.0.0.1",
  port = tonumber(env("IMAPSIFT_IMAPS_PORT") or "993"),
  tls = "implicit",
  ca_file = env("IMAPSIFT_CA"),
  user = env("IMAPSIFT_USER") or "alice",
  password = env("IMAPSIFT_PASSWORD"),
}

local names = mail:list()
table.sort(names)
local conn = mail:conn()
for _, name in ipairs(names) do
  -- A parent that only holds others (\Noselect) has no count.
  local ok, s = pcall(conn.status, conn, name, { "MESSAGES", "UNSEEN" })
  if ok then
    local n = s.messages or 0
    print(("%-20s %3d message%s, %d unread"):format(name, n,
      n == 1 and "" or "s", s.unseen or 0))
  end
end
mail:logout()
