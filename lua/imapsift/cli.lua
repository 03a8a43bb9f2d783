-- imapsift.cli: the imapsift command: its options, usage, help and
-- version text, the exit codes, and main(argv), which sets up the log
-- and hands a single run to imapsift.runner or a loop to imapsift.loop.

local errors = require "imapsift.error"

local M = {}

M.VERSION = require("imapsift").VERSION

-- Exit codes of the command; when several problems met, the highest
-- ranked wins: usage > tls > connection > script.
M.EXIT = { ok = 0, script = 1, usage = 2, connection = 3, tls = 4 }
local RANK = { [0] = 0, [1] = 1, [3] = 2, [4] = 3, [2] = 4 }

M.USAGE = "usage: imapsift [OPTIONS] [SCRIPT.lua [ARGS...]]"

local HELP = [[
Runs the rules of SCRIPT.lua (a Lua 5.4 script using require "imapsift")
against IMAP accounts: once, every DUR, or whenever new mail arrives.

Options:
  -n, --dry-run       plan every action and change nothing; the plan is
                      printed on standard output
      --plan FILE     also write the plan and summary as JSON to FILE
      --check         compile the script, run it as a quiet dry run, log
                      in to every account it declares and list mailboxes
                      it names that do not exist; changes nothing
      --every DUR     run, wait DUR, run again (90s, 5m, 1h, 1h30m, 2d;
                      a bare number is seconds)
      --watch         run, then again whenever a mailbox the script
                      watches (mailbox:watch()) gets new mail; with
                      --every also a full run at least every DUR
  -v, --verbose       more detail (repeat for debug output)
  -q, --quiet         errors only
      --trace FILE    protocol trace of every connection (secrets
                      redacted)
      --log FILE      also append log lines to FILE
      --log-format F  text (default) or json
  -e CHUNK            run the Lua CHUNK before the script in every run
                      (repeatable); with -e and no SCRIPT no default
                      script is loaded
  -V, --version       print the versions and exit
  -h, --help          print this help and exit
  --                  end of options
Long options with a value also take the form --option=value.

The script gets arg (arg[0] = SCRIPT, arg[1..] = ARGS) and ... = ARGS,
and runs in a fresh global environment every run.

Exit status:
  0  success (also after SIGTERM or SIGINT: the action in progress ends,
     the accounts log out)
  1  error in the rule script: it does not load or compile, raised, a
     rule failed, or --check found a missing mailbox
  2  usage or configuration error
  3  connection or authentication failure
  4  TLS certificate verification failure
  When several problems occur: 2, then 4, then 3, then 1.

Signals (with --every or --watch): SIGHUP reads the script again before
the next run, SIGUSR1 runs at once, SIGTERM and SIGINT stop after the
run in progress (a second one exits at once).

Files:
  $XDG_CONFIG_HOME/imapsift/rules.lua  default script (XDG_CONFIG_HOME
                                       defaults to ~/.config)
  $XDG_STATE_HOME/imapsift/            what earlier runs have seen
                                       (XDG_STATE_HOME defaults to
                                       ~/.local/state)

Environment:
  XDG_CONFIG_HOME, XDG_STATE_HOME, HOME  where the files above live
]]

-- Options that take a value, long name -> field; flags -> field.
local VALUED = { plan = "plan_file", every = "every", trace = "trace",
  log = "log_file", ["log-format"] = "log_format" }
local FLAGS = { ["dry-run"] = "dry", check = "check", watch = "watch",
  verbose = "verbose", quiet = "quiet", version = "version", help = "help" }
local SHORT = { n = "dry-run", v = "verbose", q = "quiet", V = "version",
  h = "help" }

local UNITS = { s = 1, m = 60, h = 3600, d = 86400 }

-- duration(text) -> seconds (> 0), or nil and what is wrong.
-- "90s", "5m", "1h30m", "2d"; a bare number is seconds.
function M.duration(text)
  if type(text) ~= "string" then return nil, "a duration expected" end
  local n = text:match("^%d+%.?%d*$") and tonumber(text)
  if not n then
    if text == "" or text:gsub("%d+[smhd]", "") ~= "" then
      return nil, ("bad duration %q (e.g. 90s, 5m, 1h30m)"):format(text)
    end
    n = 0
    for num, unit in text:gmatch("(%d+)([smhd])") do
      n = n + tonumber(num) * UNITS[unit]
    end
  end
  if n <= 0 then return nil, ("duration %q is not above zero"):format(text) end
  return n
end

local function set_flag(o, field)
  if field == "verbose" then
    o.verbose = o.verbose + 1
  elseif field == "quiet" then
    o.quiet = true
  else
    o[field] = true
  end
end

local function set_value(o, name, value)
  local field = VALUED[name]
  if field == "every" then
    local d, err = M.duration(value)
    if not d then return nil, "--every: " .. err end
    o.every = d
  elseif field == "log_format" and value ~= "text" and value ~= "json" then
    return nil, ("--log-format: %q is neither text nor json"):format(value)
  else
    o[field] = value
  end
  return true
end

-- One long option at argv[i]; returns the next index or nil, error.
local function long_option(o, argv, i)
  local name, value = argv[i]:match("^%-%-([^=]+)=(.*)$")
  name = name or argv[i]:sub(3)
  if FLAGS[name] then
    if value then return nil, ("option --%s takes no value"):format(name) end
    set_flag(o, FLAGS[name])
    return i + 1
  elseif VALUED[name] then
    if not value then
      value, i = argv[i + 1], i + 1
      if value == nil then
        return nil, ("option --%s needs a value"):format(name)
      end
    end
    local ok, err = set_value(o, name, value)
    if not ok then return nil, err end
    return i + 1
  end
  return nil, ("unknown option --%s"):format(name)
end

-- A cluster of short options (-vv, -nq, -eCHUNK, -e CHUNK).
local function short_options(o, argv, i)
  local s = argv[i]
  for k = 2, #s do
    local c = s:sub(k, k)
    if c == "e" then
      local chunk = s:sub(k + 1)
      if chunk == "" then
        i = i + 1
        chunk = argv[i]
        if chunk == nil then return nil, "option -e needs a Lua chunk" end
      end
      o.chunks[#o.chunks + 1] = chunk
      return i + 1
    elseif SHORT[c] then
      set_flag(o, FLAGS[SHORT[c]])
    else
      return nil, ("unknown option -%s"):format(c)
    end
  end
  return i + 1
end

-- default_script() -> the rules file used when none is given.
function M.default_script()
  local base = os.getenv("XDG_CONFIG_HOME")
  if base == nil or base == "" then
    base = (os.getenv("HOME") or "") .. "/.config"
  end
  return base .. "/imapsift/rules.lua"
end

-- parse(argv) -> options, or nil and an error message. Options stop at
-- the first argument that is not one (the script) or after "--".
-- options: { dry, check, watch, every, verbose (count), quiet,
-- plan_file, trace, log_file, log_format, chunks = {}, script, args = {},
-- version, help }
function M.parse(argv)
  local o = { verbose = 0, quiet = false, chunks = {}, args = {} }
  local i, err = 1
  while argv[i] ~= nil do
    local a = argv[i]
    if a == "--" then i = i + 1; break end
    if a:sub(1, 2) == "--" then
      i, err = long_option(o, argv, i)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      i, err = short_options(o, argv, i)
    else
      break
    end
    if not i then return nil, err end
  end
  o.script = argv[i]
  for k = i + 1, #argv do o.args[#o.args + 1] = argv[k] end
  if o.script == nil and #o.chunks == 0 then o.script = M.default_script() end
  if o.check and (o.every or o.watch) then
    return nil, "--check runs once: it cannot go with --every or --watch"
  end
  return o
end

-- level(o) -> the log level: -1 quiet, 0 default, 1.. verbose.
function M.level(o)
  if o.quiet then return -1 end
  return o.verbose
end

local CONNECTION = { connect = true, closed = true, bye = true,
  timeout = true, io = true }

-- classify(err) -> the exit code an error gives.
function M.classify(err)
  if err == nil then return M.EXIT.ok end
  if not errors.is(err) then return M.EXIT.script end
  local k = err.kind
  if k == "stopped" then return M.EXIT.ok end
  if k == "usage" then return M.EXIT.usage end
  if k == "tls" then return M.EXIT.tls end
  if CONNECTION[k] then return M.EXIT.connection end
  if (k == "no" or k == "bad") and type(err.command) == "string" and
      (err.command:match("^LOGIN") or err.command:match("^AUTHENTICATE")) then
    return M.EXIT.connection
  end
  return M.EXIT.script
end

-- worst(a, b) -> the exit code of higher rank (2 > 4 > 3 > 1 > 0).
function M.worst(a, b)
  if b == nil then return a end
  if a == nil then return b end
  return (RANK[b] or 1) > (RANK[a] or 1) and b or a
end

function M.version_text()
  local lines = { "imapsift " .. M.VERSION }
  local core = require "imapsift.core"
  local v = core.versions and core.versions() or { lua = _VERSION }
  lines[#lines + 1] = v.lua or _VERSION
  if v.openssl then lines[#lines + 1] = v.openssl end
  if v.pcre2 then lines[#lines + 1] = "PCRE2 " .. v.pcre2 end
  if v.zlib then lines[#lines + 1] = "zlib " .. v.zlib end
  return table.concat(lines, "\n") .. "\n"
end

function M.help_text()
  return M.USAGE .. "\n" .. HELP
end

local function usage_error(text)
  io.stderr:write("imapsift: ", text, "\n", M.USAGE, "\n",
    "Try 'imapsift --help'.\n")
  return M.EXIT.usage
end

-- main(argv) -> exit code. argv: the command's arguments without the
-- program name. Expected problems are reported, never raised.
function M.main(argv)
  local o, err = M.parse(argv or {})
  if not o then return usage_error(err) end
  if o.help then io.stdout:write(M.help_text()); return M.EXIT.ok end
  if o.version then io.stdout:write(M.version_text()); return M.EXIT.ok end
  local loop = require "imapsift.loop"
  local ok, code = pcall(loop.main, o)
  if ok then return code end
  io.stderr:write("imapsift: ", errors.escape(tostring(code)), "\n")
  return M.classify(code) == M.EXIT.usage and M.EXIT.usage or M.EXIT.script
end

return M
