-- Bench job idle as an imapfilter config: B (this process) selects "Idle"
-- and waits with enter_idle(); A appends a small message there; the
-- latency runs from just before A's APPEND to enter_idle() returning.
-- enter_idle() blocks the whole config, so A is a second imapfilter
-- process running this file (BENCH_IDLE_ROLE=append), started in the
-- background before each wait; it logs in, gives B time to be in IDLE,
-- notes the time in BENCH_WORK and appends. imapfilter has no clock finer
-- than a second: the times come from date(1) (a millisecond or two of
-- process start counts against the latency). 10 rounds; prints the median.
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local box = acct['Idle']
local work = os.getenv('BENCH_WORK')
local ROUNDS = 10

local function clock()
  local _, out = pipe_from('date +%s.%N')
  return tonumber(out)
end

local function stamp_file(round)
  return ('%s/imapfilter-idle-%d.t0'):format(work, round)
end

if os.getenv('BENCH_IDLE_ROLE') == 'append' then
  local round = tonumber(os.getenv('BENCH_IDLE_ROUND'))
  box:check_status()                 -- logged in before the clock starts
  os.execute('sleep 0.3')            -- B is in IDLE by now
  local f = assert(io.open(stamp_file(round), 'w'))
  f:write(string.format('%.6f\n', clock()))
  f:close()
  box:append_message(('From: bench@bench.example\r\n' ..
    'To: bench@bench.example\r\nSubject: idle round %d\r\n\r\n' ..
    'round %d\r\n'):format(round, round))
  return
end

local me = os.getenv('BENCH_ROOT') .. '/scripts/bench.d/imapfilter/idle.lua'
box:select_all()     -- selected before any A starts: its mail is news
local latencies = {}
for round = 1, ROUNDS do
  os.remove(stamp_file(round))
  os.execute(('BENCH_IDLE_ROLE=append BENCH_IDLE_ROUND=%d imapfilter -c ' ..
    "'%s' >/dev/null &"):format(round, me))
  local update, event = box:enter_idle()
  local t1 = clock()
  assert(update, 'the server does not offer IDLE')
  assert(event == 'EXISTS' or event == 'RECENT', 'IDLE woke on ' ..
    tostring(event))
  local f = assert(io.open(stamp_file(round)))
  latencies[round] = (t1 - tonumber(f:read('*l'))) * 1000
  f:close()
end

table.sort(latencies)
local median = (latencies[ROUNDS / 2] + latencies[ROUNDS / 2 + 1]) / 2
print(('RESULT {"rounds": %d, "latency_ms": %.2f}'):format(#latencies,
  median))
