-- Bench job scan as an imapfilter config: count the messages of
-- BENCH_MAILBOX per sender (the From header's first address, lowercased).
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local inbox = acct[os.getenv('BENCH_MAILBOX')]

-- The address in angle brackets, else the first word with an @.
local function address(field)
  local value = field:gsub('\r?\n[ \t]', ' '):gsub('^[^:]*:%s*', '')
  return value:match('<([^>]*)>') or value:match('[^%s,<>"]+@[^%s,<>"]+')
end

local fields = inbox:fetch_fields({ 'from' }, inbox:select_all()) or {}
local messages, senders, distinct = 0, {}, 0
for _, field in pairs(fields) do
  messages = messages + 1
  local a = address(field)
  if a then
    a = a:lower()
    if not senders[a] then senders[a], distinct = true, distinct + 1 end
  end
end

print(('RESULT {"messages": %d, "senders": %d}'):format(messages, distinct))
