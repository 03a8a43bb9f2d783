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

local stored = 0
for line in io.lines(env("BENCH_RULES20")) do
  line = line:gsub("\r$", "")
  if line ~= "" and not line:find("^#") then
    local f = {}
    for field in line:gmatch("[^\t]+") do f[#f + 1] = field end
    stored = stored + inbox:search(criteria(f[2], f[3], f[4]))
      :add_keyword(f[1])
  end
end

print(('RESULT {"stored": %d}'):format(stored))
