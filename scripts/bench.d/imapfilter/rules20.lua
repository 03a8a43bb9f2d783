-- Bench job rules20 as an imapfilter config: for each rule of
-- BENCH_RULES20 (keyword, kind, argument(s), TAB-separated) search
-- BENCH_MAILBOX and add the keyword to the matches.
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local inbox = acct[os.getenv('BENCH_MAILBOX')]

local function search(kind, a, b)
  if kind == 'from' then return inbox:contain_from(a) end
  if kind == 'subject' then return inbox:contain_subject(a) end
  if kind == 'larger' then return inbox:is_larger(tonumber(a)) end
  if kind == 'header' then return inbox:contain_field(a, b) end
  error('unknown rule kind ' .. tostring(kind))
end

local stored = 0
for line in io.lines(os.getenv('BENCH_RULES20')) do
  line = line:gsub('\r$', '')
  if line ~= '' and not line:find('^#') then
    local f = {}
    for field in line:gmatch('[^\t]+') do f[#f + 1] = field end
    local results = search(f[2], f[3], f[4])
    results:add_flags({ f[1] })
    stored = stored + #results
  end
end

print(('RESULT {"stored": %d}'):format(stored))
