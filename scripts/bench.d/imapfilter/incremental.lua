-- Bench job incremental as an imapfilter config run on a schedule: flag
-- the messages that arrived since the last run. imapfilter has no state of
-- its own (is_new()/is_recent() depend on which session saw mail first),
-- so the config keeps the mailbox's UIDNEXT (from check_status()) in a
-- file in BENCH_WORK; the first run takes every message as new.
-- check_status() gives no UIDVALIDITY, so a recreated mailbox goes unseen.
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local inbox = acct[os.getenv('BENCH_MAILBOX')]
local state = os.getenv('BENCH_WORK') .. '/imapfilter-incremental.uidnext'

local f = io.open(state)
local last = f and tonumber(f:read('*l'))
if f then f:close() end

local _, _, _, uidnext = inbox:check_status()
local new
if not last then
  new = inbox:select_all()
elseif last == uidnext then
  new = Set{}
else
  -- "n:*" also matches the highest UID when it is below n.
  new = Set{}
  for _, m in ipairs(inbox:send_query('UID ' .. last .. ':*')) do
    if m[2] >= last then table.insert(new, m) end
  end
end
new:mark_flagged()

f = assert(io.open(state .. '.tmp', 'w'))
f:write(uidnext, '\n')
f:close()
assert(os.rename(state .. '.tmp', state))

print(('RESULT {"new": %d}'):format(#new))
