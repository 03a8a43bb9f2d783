-- bench-parse.lua: how fast responses become Lua values. Builds N FETCH
-- responses like a header scan of a big mailbox (UID, FLAGS, size, date,
-- envelope, two header fields) plus a run of large bodies, feeds them to
-- the parser in 64 KiB chunks and prints throughput figures.
--   lua5.4 scripts/bench-parse.lua [N]   (with imapsift.core on cpath)
-- The target: 100,000 header responses in well under a second, and
-- bodies parsed at well over 500 MB/s.
local core = require "imapsift.core"

local n = tonumber(arg and arg[1]) or 100000

local function header_scan(count)
  local parts = {}
  for i = 1, count do
    local hdr = ("Subject: message %d\r\nFrom: Sender %d <s%d@example.org>\r\n\r\n")
      :format(i, i, i)
    parts[i] = ("* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE %d " ..
      "INTERNALDATE \"17-Jul-2024 02:44:25 -0700\" ENVELOPE (\"Wed, 17 Jul 2024 " ..
      "02:44:25 -0700\" \"message %d\" ((\"Sender\" NIL \"s%d\" \"example.org\")) " ..
      "NIL NIL ((NIL NIL \"alice\" \"example.org\")) NIL NIL NIL \"<%d@example.org>\") " ..
      "BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n%s)\r\n")
      :format(i, i, 1000 + i, i, i, i, #hdr, hdr)
  end
  return table.concat(parts)
end

local function bodies(count, size)
  local body = ("x"):rep(size - 2) .. "\r\n"
  local parts = {}
  for i = 1, count do
    parts[i] = ("* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n"):format(i, i, size, body)
  end
  return table.concat(parts)
end

local function run(label, wire, keep)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local p = core.parser()
  local got, kept = 0, {}
  local t0 = os.clock()
  for off = 1, #wire, 65536 do
    local list = p:feed(wire:sub(off, off + 65535))
    got = got + #list
    if keep then for _, r in ipairs(list) do kept[#kept + 1] = r end end
  end
  local dt = os.clock() - t0
  local mem = (collectgarbage("count") - before) / 1024
  print(("%-28s %8d responses %8.1f MB in %6.3f s: %9.0f responses/s %8.1f MB/s%s")
    :format(label, got, #wire / 1e6, dt, got / dt, #wire / 1e6 / dt,
      keep and (", %.0f MB of Lua values kept for %d responses"):format(mem,
        #kept) or ""))
  p:close()
end

run("header scan (kept)", header_scan(n), true)
run("header scan (streamed)", header_scan(n), false)
run("4 KiB bodies (streamed)", bodies(n // 2, 4096), false)
run("1 MiB bodies (streamed)", bodies(200, 1024 * 1024), false)
