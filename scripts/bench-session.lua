-- bench-session.lua: end-to-end figures against the private Dovecot:
-- fills a mailbox of a spare test user with N messages, then times a
-- search, a streamed header scan, a flag change over every UID (split
-- over several commands) and a full fetch kept in memory.
--   eval "$(scripts/testserver env)"
--   build/imapsift scripts/bench-session.lua [N]      (default 5000)
-- The server is on this machine, so the figures show the client's cost
-- plus Dovecot's, not a slow link's.
local imapsift = require "imapsift"

local n = tonumber(arg and arg[1]) or 5000
local spare = assert(os.getenv("IMAPSIFT_SPARE_USERS"),
  "run eval \"$(scripts/testserver env)\" first")
local user, password = spare:match("(%S+):(%S+)%s*$") -- the last spare user
local clock = imapsift.core.monotonic

local imap <close> = imapsift.connect{
  host = os.getenv("IMAPSIFT_HOST"),
  port = tonumber(os.getenv("IMAPSIFT_IMAPS_PORT")),
  ca_file = os.getenv("IMAPSIFT_CA"), user = user, password = password,
}

local function timed(label, count, fn)
  collectgarbage("collect")
  local t0 = clock()
  local result = fn()
  local dt = clock() - t0
  print(("%-34s %8d in %7.3f s: %9.0f per second"):format(label, count, dt,
    count / dt))
  return result
end

local BOX = "bench"
pcall(imap.delete, imap, BOX)
imap:create(BOX)
timed("APPEND messages", n, function()
  for i = 1, n do
    imap:append(BOX, ("From: Sender %d <s%d@example.org>\r\nTo: %s@example.org\r\n" ..
      "Subject: message %d\r\nMessage-ID: <%d@bench>\r\n\r\nbody %d\r\n")
      :format(i, i, user, i, i, i))
  end
end)
imap:select(BOX)
local uids = timed("UID SEARCH ALL", n, function() return imap:search{ "ALL" } end)
assert(#uids == n, "search found " .. #uids .. " messages, not " .. n)
timed("header scan, streamed (each)", n, function()
  local seen = 0
  imap:fetch(uids, { "UID", "FLAGS", "RFC822.SIZE",
    "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]" }, { each = function()
      seen = seen + 1
    end })
  assert(seen == n)
end)
local evens = {}
for i = 2, #uids, 2 do evens[#evens + 1] = uids[i] end
timed("STORE +FLAGS on every other UID", #evens, function()
  imap:store(evens, "+FLAGS", { "\\Seen" }, { silent = true })
end)
local msgs = timed("ENVELOPE fetch, kept", n, function()
  return imap:fetch(uids, { "ENVELOPE", "FLAGS" })
end)
assert(#msgs == n)
print(("Lua memory in use: %.1f MB"):format(collectgarbage("count") / 1024))
imap:delete(BOX)
imap:logout()
