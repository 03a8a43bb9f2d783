-- bench-flood.lua: peak memory of a session that a hostile server floods,
-- on default limits. Each flood runs in a fresh process (so its peak is
-- its own) against a tiny scripted server spoken to over the stream
-- transport; the figure is the process's peak resident set (VmHWM).
--   build/imapsift scripts/bench-flood.lua            (every flood)
--   build/imapsift scripts/bench-flood.lua NAME       (one, prints its peak)
-- With plain lua5.4, put build/lib on LUA_CPATH and lua/ on LUA_PATH.
local imapsift = require "imapsift"

local N = 1000000

-- Each flood: the bytes the server sends in answer to the client's
-- second command (a NOOP, or what run says), and what the client does.
local FLOODS = {
  exists = { about = "1,000,000 EXISTS during a NOOP",
    line = "* %d EXISTS\r\n" },
  flags = { about = "1,000,000 FETCH FLAGS updates during a NOOP",
    line = "* %d FETCH (FLAGS (\\Seen))\r\n" },
  expunge = { about = "1,000,000 EXPUNGEs during a NOOP",
    line = "* 1 EXPUNGE\r\n" },
  noise = { about = "1,000,000 unsolicited OK lines (the cap stops it)",
    line = "* OK [X-NOISE %d] noise\r\n" },
  names = { about = "1,000,000 distinct unknown response names",
    line = "* X%d data\r\n" },
  search = { about = "one classic SEARCH line of 1,000,000 UIDs",
    run = "search" },
  copyuid = { about = "COPYUID naming 2 x 1,000,000 UIDs",
    run = "copy" },
}
local ORDER = { "exists", "flags", "expunge", "noise", "names", "search",
  "copyuid" }

local function peak_kib()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s+(%d+)")
    if v then return tonumber(v) end
  end
end

-- The server: a Lua chunk run by lua5.4 with the flood's name.
local SERVER = [=[
local name, n = arg[1], tonumber(arg[2])
io.stdout:setvbuf("full", 1 << 16)
local function out(s) io.stdout:write(s) end
local function cmd() local l = io.read("l"); return l and l:match("^(%S+)") end
out("* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] flood\r\n"); io.stdout:flush()
local t = cmd()
out("* " .. n .. " EXISTS\r\n" .. t .. " OK [READ-WRITE] selected\r\n")
io.stdout:flush()
t = cmd()
if LINE then -- set by the client from its FLOODS table
  for i = 1, n do out(LINE:format(i)) end
  out(t .. " OK done\r\n")
elseif name == "search" then
  out("* SEARCH")
  for i = 1, n do out(" " .. i) end
  out("\r\n" .. t .. " OK done\r\n")
elseif name == "copyuid" then
  out(t .. " OK [COPYUID 1 1:" .. n .. " " .. (n + 1) .. ":" .. (2 * n) ..
    "] done\r\n")
end
io.stdout:flush()
io.read("a")
]=]

local function run_one(name)
  local f = assert(FLOODS[name], "unknown flood " .. name)
  local path = os.tmpname()
  local h = assert(io.open(path, "w"))
  h:write(("local LINE = %s\n"):format(f.line and ("%q"):format(f.line) or
    "nil"), SERVER)
  h:close()
  local imap = imapsift.connect{ command = ("exec lua5.4 %s %s %d"):format(
    path, name, N), timeout = 60 }
  imap:select("INBOX")
  local ok, err = pcall(function()
    if f.run == "search" then return #imap:search("ALL") end
    if f.run == "copy" then return imap:copy("1:*", "Archive") end
    return imap:noop()
  end)
  imap:shutdown()
  os.remove(path)
  local outcome = ok and "completed" or ("raised " .. tostring(err.kind or err))
  print(("%s %d %s"):format(name, peak_kib(), outcome))
end

local function run_all()
  local self = arg[0]
  local host = arg[-1] or "lua5.4"
  print(("%-10s %10s  %-22s %s"):format("flood", "peak RSS", "outcome",
    "what"))
  for _, name in ipairs(ORDER) do
    local p = assert(io.popen(("%q %q %s"):format(host, self, name)))
    local line = p:read("l") or ""
    p:close()
    local got, kib, outcome = line:match("^(%S+) (%d+) (.*)$")
    if got then
      print(("%-10s %7.1f MiB  %-22s %s"):format(name, kib / 1024, outcome,
        FLOODS[name].about))
    else
      print(("%-10s failed: %s"):format(name, line))
    end
  end
end

if arg and arg[1] then run_one(arg[1]) else run_all() end
