-- Bench job append as an imapfilter config: every file of
-- BENCH_APPEND_DIR, in name order, appended to BENCH_APPEND_MAILBOX
-- without flags.
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local bulk = acct[os.getenv('BENCH_APPEND_MAILBOX')]
local dir = os.getenv('BENCH_APPEND_DIR')

local appended = 0
for i = 1, tonumber(os.getenv('BENCH_APPEND_COUNT')) do
  local f = assert(io.open(('%s/%06d.eml'):format(dir, i), 'rb'))
  local message = f:read('*a')
  f:close()
  if bulk:append_message(message) then appended = appended + 1 end
end

print(('RESULT {"appended": %d}'):format(appended))
