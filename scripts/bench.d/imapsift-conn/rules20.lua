-- Bench job rules20 with imapsift's connection object: the searches of
-- every rule of BENCH_RULES20 pipelined together, then the stores of their
-- keywords pipelined together.
local imapsift = require "imapsift"
local set = imapsift.set
local env = os.getenv

local imap <close> = imapsift.connect{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
imap:select(env("BENCH_MAILBOX"))

local function criteria(kind, a, b)
  if kind == "from" then return { "FROM", a } end
  if kind == "subject" then return { "SUBJECT", a } end
  if kind == "larger" then return { "LARGER", tonumber(a) } end
  if kind == "header" then return { "HEADER", a, b } end
  error("unknown rule kind " .. tostring(kind))
end

local keywords, searches = {}, {}
for line in io.lines(env("BENCH_RULES20")) do
  line = line:gsub("\r$", "")
  if line ~= "" and not line:find("^#") then
    local f = {}
    for field in line:gmatch("[^\t]+") do f[#f + 1] = field end
    keywords[#keywords + 1] = f[1]
    searches[#searches + 1] = criteria(f[2], f[3], f[4])
  end
end

local found, failed = imap:search_many(searches)
local stores, stored = {}, 0
for i, kw in ipairs(keywords) do
  if failed[i] then error(failed[i], 0) end
  local uids = found[i]
  stored = stored + #uids
  if #uids > 0 then
    -- Pieces short enough for any server's line limit.
    for _, piece in ipairs(set.split(uids, 7000)) do
      stores[#stores + 1] = { "UID STORE", { { seqset = piece },
        "+FLAGS.SILENT", { { flag = kw } } } }
    end
  end
end
imap:pipeline(stores)
imap:logout()

print(('RESULT {"stored": %d}'):format(stored))
