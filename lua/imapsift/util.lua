-- imapsift.util: imaplib's module functions in Lua's shape, merged into
-- the imapsift module by init.lua: internaldate (Internaldate2tuple,
-- Time2Internaldate), parse_flags (ParseFlags) and trace_level (the
-- debug levels). imapsift.quote (how a string goes on the wire: atom,
-- quoted or literal) and imapsift.mutf7 come from the C core.

local errors = require "imapsift.error"

local M = {}

M.internaldate = require "imapsift.internaldate"

-- parse_flags(s) -> array of the flags in the first parenthesized list
-- after FLAGS (or PERMANENTFLAGS), or in s itself when it starts with
-- "(": parse_flags('FLAGS (\\Seen $Junk)') -> { "\\Seen", "$Junk" }.
-- An empty array when there is no complete list (imaplib's ParseFlags).
function M.parse_flags(s)
  if type(s) ~= "string" then
    error("bad argument #1 to 'parse_flags' (string expected, got " ..
      type(s) .. ")", 2)
  end
  local _, open = s:upper():find("FLAGS%s*%(")
  if not open then open = s:find("^%s*%(") and s:find("(", 1, true) end
  local list = open and s:match("^([^)]*)%)", open + 1)
  local flags = {}
  for flag in (list or ""):gmatch("[^%s()]+") do flags[#flags + 1] = flag end
  return flags
end

local STATUS_SHOWN = { NO = true, BAD = true, BYE = true }

-- Whether a server line shows at debug level n below 4: the failures
-- imaplib reports from level 1, capabilities from level 3.
local function shown_below_4(n, dir, line)
  if dir ~= "S" then return false end
  local status = line:match("^%S+ (%a+)")
  if status and STATUS_SHOWN[status:upper()] then return true end
  return n >= 3 and (line:upper():find("^%* CAPABILITY ") ~= nil or
    line:upper():find("[CAPABILITY ", 1, true) ~= nil)
end

local function writer_of(out)
  if out == nil then out = io.stderr end
  if type(out) == "function" then return out end
  if io.type(out) == "file" or (type(out) == "table" and out.write) then
    return function(s) out:write(s) end
  end
  error("bad argument #2 to 'trace_level' (file or function expected)", 3)
end

-- trace_level(n [, out]) -> a function for connect's trace option (or
-- conn:set_trace), or nil for level 0. imaplib's debug levels:
--   0      nothing
--   1, 2   the server's NO, BAD and BYE responses
--   3      those and the capabilities the server announces
--   4      every line both ways ("C: A1 SELECT INBOX", "S: * 3 EXISTS")
--   5      every line, each after the local time ("14:02:11 C: ...")
-- Lines go to out (a file, default io.stderr, or a function(s)), escaped;
-- passwords and literal contents are already left out of trace lines.
function M.trace_level(n, out)
  if n == nil or n == false then return nil end
  local level = type(n) == "number" and math.tointeger(n)
  if not level or level < 0 then
    error("bad argument #1 to 'trace_level' (debug level 0..5 expected, " ..
      "got " .. tostring(n) .. ")", 2)
  end
  local write = writer_of(out)
  if level == 0 then return nil end
  return function(dir, line)
    if level < 4 and not shown_below_4(level, dir, line) then return end
    local stamp = level >= 5 and (os.date("%H:%M:%S") .. " ") or ""
    write(stamp .. dir .. ": " .. errors.escape(line) .. "\n")
  end
end

return M
