-- Bench job rules20 with imapsift's rules layer: for each rule of
-- BENCH_RULES20 (keyword, kind, argument(s), TAB-separated) search
-- BENCH_MAILBOX and add the keyword to the matches.
local imapsift = require "imapsift"
local env = os.getenv

local acct = imapsift.account{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
local inbox = acct:mailbox(env("BENCH_MAILBOX"))

local function criteria(kind, a, b)
  if kind == "from" then return { from = a } end
  if kind == "subject" then return { subject = a } end
  if kind == "larger" then return { larger = tonumber(a) } end
  if kind == "header" then return { header = { [a] = b } } end
  error("unknown rule kind " .. tostring(kind))
end

local matched = {}
for line in io.lines(env("BENCH_RULES20")) do
  line = line:gsub("\r$", "")
  if line ~= "" and not line:find("^#") then
    local f = {}
    for field in line:gmatch("[^\t]+") do f[#f + 1] = field end
    local set = inbox:search(criteria(f[2], f[3], f[4]))
    set:add_keyword(f[1])
    matched[#matched + 1] = set
  end
end

-- Counted after every rule: flag actions may be deferred and sent
-- together, and reading a set's size is where they are settled.
local stored = 0
for _, set in ipairs(matched) do stored = stored + #set end

print(('RESULT {"stored": %d}'):format(stored))
