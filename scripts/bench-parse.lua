-- bench-parse.lua: how fast responses become Lua values, and how much
-- memory kept ones take. Builds N FETCH responses like a header scan of a
-- big mailbox, feeds them to the parser in 64 KiB chunks and prints
-- throughput figures; then keeps the N responses of a header scan, each
-- measure in a process of its own, and prints the Lua heap they hold
-- (collectgarbage "count" after a full collection, less what was there
-- before) and the process's peak RSS (VmHWM):
--   * parser: the tables parser:feed returns, kept in an array;
--   * connection: imap:fetch(uids, items) without `each`, over the stream
--     transport from a replay server (this script with --serve N);
--   * rules: set:messages{ "from", "subject" }, the Message objects of the
--     rules layer, from the same replay server.
--   lua5.4 scripts/bench-parse.lua [N]   (imapsift.core on cpath)
-- The targets: a million header responses a second turned into Lua
-- values, bodies parsed at over 500 MB/s (c/tests/bench_parse.c measures
-- the C side alone).
local script = arg and arg[0] or "scripts/bench-parse.lua"
local root = script:match("^(.*)/scripts/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" ..
  package.path
local core = require "imapsift.core"

-- ---- the recorded stream ------------------------------------------------

-- The header block of message i: a list sender, a subject that is every
-- fifth time RFC 2047 encoded.
local function header(i)
  local subject = i % 5 == 0 and
    ("=?UTF-8?Q?Caf=C3=A9_news_number_%d?="):format(i) or
    ("Re: weekly report number %d about things"):format(i)
  return ('From: "Sender %d" <sender%d@lists.example.org>\r\n' ..
    "Subject: %s\r\n\r\n"):format(i % 997, i % 997, subject)
end

-- One FETCH response of a header scan, with the items asked for.
local function scan_response(i, uid, want)
  local parts = { ("* %d FETCH (UID %d"):format(i, uid) }
  if want.flags then
    parts[#parts + 1] = i % 3 == 0 and " FLAGS (\\Seen $Label1)" or
      " FLAGS (\\Seen)"
  end
  if want.size then parts[#parts + 1] = (" RFC822.SIZE %d"):format(2000 + i) end
  if want.section then
    local h = header(i)
    parts[#parts + 1] = (" BODY[%s] {%d}\r\n%s"):format(want.section, #h, h)
  end
  parts[#parts + 1] = ")\r\n"
  return table.concat(parts)
end

local SCAN = { flags = true, size = true,
  section = "HEADER.FIELDS (FROM SUBJECT)" }

local function header_scan(count)
  local parts = {}
  for i = 1, count do parts[i] = scan_response(i, i, SCAN) end
  return table.concat(parts)
end

local function envelope_scan(count)
  local parts = {}
  for i = 1, count do
    local hdr = header(i)
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

-- ---- the replay server (--serve N) ---------------------------------------

-- The UIDs of a sequence set such as "1:500,600".
local function set_uids(set, n)
  local out = {}
  for a, b in set:gmatch("([%d*]+):?([%d*]*)") do
    a = a == "*" and n or tonumber(a)
    b = b == "" and a or b == "*" and n or tonumber(b)
    if a > b then a, b = b, a end
    for u = a, math.min(b, n) do out[#out + 1] = u end
  end
  return out
end

local function fetch_reply(rest, n)
  local set, items = rest:match("^(%S+) (.*)$")
  local want = { flags = items:find("FLAGS", 1, true),
    size = items:find("RFC822.SIZE", 1, true),
    section = items:match("BODY%.PEEK%[([^%]]*)%]") }
  local out = {}
  for _, uid in ipairs(set_uids(set, n)) do
    out[#out + 1] = scan_response(uid, uid, want)
    if #out >= 512 then io.stdout:write(table.concat(out)); out = {} end
  end
  io.stdout:write(table.concat(out))
end

local function search_reply(n)
  local parts = { "* SEARCH" }
  for u = 1, n do parts[#parts + 1] = u end
  io.stdout:write(table.concat(parts, " "), "\r\n")
end

-- Answers a client of the connection object with a mailbox of n messages,
-- UID = sequence number; anything it does not know gets OK.
local function serve(n)
  local out = io.stdout
  out:setvbuf("full")
  out:write("* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] replay ready\r\n")
  out:flush()
  for line in io.stdin:lines() do
    local tag, cmd, rest = line:gsub("\r$", ""):match("^(%S+) (%S+) ?(.*)$")
    cmd = (cmd or ""):upper()
    if cmd == "UID" then cmd, rest = rest:match("^(%S+) ?(.*)$") end
    cmd = (cmd or ""):upper()
    if cmd == "SELECT" or cmd == "EXAMINE" then
      out:write(("* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" ..
        "* OK [UIDNEXT %d] ok\r\n"):format(n, n + 1))
    elseif cmd == "SEARCH" then
      search_reply(n)
    elseif cmd == "FETCH" then
      fetch_reply(rest, n)
    elseif cmd == "LOGOUT" then
      out:write("* BYE bye\r\n", tag, " OK done\r\n")
      out:flush()
      return
    end
    out:write((tag or "*"), " OK done\r\n")
    out:flush()
  end
end

-- ---- kept responses, each measure in a process of its own (--keep) ------

local function peak_rss_mb()
  local f = io.open("/proc/self/status")
  local kb = f and f:read("a"):match("VmHWM:%s*(%d+)")
  if f then f:close() end
  return kb and tonumber(kb) / 1024 or 0
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function lua_cmd(...)
  local interp = arg and arg[-1] or "lua5.4"
  local words = { quote(interp), quote(script) }
  for _, w in ipairs{ ... } do words[#words + 1] = quote(tostring(w)) end
  return table.concat(words, " ")
end

local KEEPERS = {}

local function kept_parse(wire)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local p, kept = core.parser(), {}
  for off = 1, #wire, 65536 do
    for _, r in ipairs(p:feed(wire:sub(off, off + 65535))) do
      kept[#kept + 1] = r
    end
  end
  p:close()
  -- The wire stays alive until measured: freed, it would be counted off
  -- the heap the kept tables take.
  return kept, before, function() return #wire end
end

function KEEPERS.parser(n) return kept_parse(header_scan(n)) end

function KEEPERS.envelope(n) return kept_parse(envelope_scan(n)) end

local function kept_fetch(n, section)
  local imapsift = require "imapsift"
  local imap = imapsift.connect{ command = lua_cmd("--serve", n) }
  imap:select("INBOX")
  local uids = imap:search{ "ALL" }
  collectgarbage("collect")
  local before = collectgarbage("count")
  local kept = imap:fetch(uids, { "UID", "FLAGS", "RFC822.SIZE",
    "BODY.PEEK[" .. section .. "]" })
  return kept, before, function() imap:logout() end
end

function KEEPERS.connection(n)
  return kept_fetch(n, "HEADER.FIELDS (FROM SUBJECT)")
end

-- A section name over Lua's 40-byte short strings, which are not
-- interned: each response's body table is keyed by it.
function KEEPERS.connection_long(n)
  return kept_fetch(n, "HEADER.FIELDS (FROM SUBJECT TO CC DATE MESSAGE-ID)")
end

function KEEPERS.rules(n)
  local imapsift = require "imapsift"
  local acct = imapsift.account{ command = lua_cmd("--serve", n) }
  local set = acct:mailbox("INBOX"):search{}
  assert(#set == n)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local kept = set:messages{ "from", "subject" }
  -- What a rule reads: every message's decoded sender and subject.
  local bytes = 0
  for _, m in ipairs(kept) do
    bytes = bytes + #m.subject + #(m.from[1] and m.from[1].address or "")
  end
  return kept, before, function() acct:logout() end
end

local function keep(what, n)
  local t0 = os.clock()
  local kept, before, finish = KEEPERS[what](n)
  local dt = os.clock() - t0
  collectgarbage("collect")
  local heap = (collectgarbage("count") - before) / 1024
  print(("%d %.3f %.1f %.1f"):format(#kept, dt, heap, peak_rss_mb()))
  if finish then finish() end
end

local function run_keep(label, what, n)
  local p = assert(io.popen(lua_cmd("--keep", what, n)))
  local out = p:read("a")
  p:close()
  local got, dt, heap, rss = out:match("^(%d+) (%S+) (%S+) (%S+)")
  if not got then
    print(("%-28s failed: %s"):format(label, out))
    return
  end
  print(("%-28s %8d kept in %6.3f s CPU: Lua heap %6.1f MB (%4.0f B each), " ..
    "peak RSS %6.1f MB"):format(label, got, dt, heap,
    heap * 1024 * 1024 / got, rss))
end

-- ---- throughput -----------------------------------------------------------

local function run(label, wire)
  collectgarbage("collect")
  local p = core.parser()
  local got = 0
  local t0 = os.clock()
  for off = 1, #wire, 65536 do
    got = got + #p:feed(wire:sub(off, off + 65535))
  end
  local dt = os.clock() - t0
  print(("%-28s %8d responses %8.1f MB in %6.3f s: %9.0f responses/s %8.1f MB/s")
    :format(label, got, #wire / 1e6, dt, got / dt, #wire / 1e6 / dt))
  p:close()
end

local mode = arg and arg[1]
if mode == "--serve" then
  serve(tonumber(arg[2]))
elseif mode == "--keep" then
  keep(arg[2], tonumber(arg[3]))
else
  local n = tonumber(mode) or 100000
  run("header scan (streamed)", header_scan(n))
  run("envelope scan (streamed)", envelope_scan(n))
  run("4 KiB bodies (streamed)", bodies(n // 2, 4096))
  run("1 MiB bodies (streamed)", bodies(200, 1024 * 1024))
  run_keep("header scan kept: parser", "parser", n)
  run_keep("envelope scan kept: parser", "envelope", n)
  run_keep("kept: imap:fetch", "connection", n)
  run_keep("kept: imap:fetch, long key", "connection_long", n)
  run_keep("kept: set:messages", "rules", n)
end
