-- imapsift.log: where the command's messages go. Levels, text or JSON
-- lines on standard error and in an optional log file, the plan's
-- action lines (on standard output in a dry run), the run summary, a
-- progress line on a terminal, protocol trace files and the JSON plan.

local errors = require "imapsift.error"
local plan = require "imapsift.plan"
local set = require "imapsift.set"
local connection = require "imapsift.connection"
local cjson = require "cjson"

local M = {}

local core_ok, core = pcall(require, "imapsift.core")
if not core_ok then core = {} end

-- A line is written when its level is at most the configured one;
-- errors always are.
M.LEVELS = { error = -1, warn = 0, info = 0, verbose = 1, debug = 2 }
local LABEL = { error = "ERROR", warn = "WARN", info = "INFO",
  verbose = "VERBOSE", debug = "DEBUG" }

-- Progress lines are redrawn at most this often (seconds).
M.PROGRESS_INTERVAL = 0.25

-- Standard output (the plan of a dry run) is flushed first, so that the
-- two streams read in order when they end up in one place.
local function write_stderr(s) io.stdout:flush(); io.stderr:write(s) end
local function write_stdout(s) io.stdout:write(s) end

local cfg -- the running configuration, see setup()
local default_plan_log = plan.log

local function defaults()
  return { level = 0, format = "text", plan_to_stdout = false,
    stderr = write_stderr, stdout = write_stdout, progress_writer = nil,
    tty = nil, clock = nil, progress = {} }
end
cfg = defaults()

local function now()
  if core.time then return core.time() end
  return os.time()
end

-- iso(t) -> "2026-12-06T05:00:00.123Z" (UTC, milliseconds).
function M.iso(t)
  t = t or now()
  local s = math.floor(t)
  local ms = math.floor((t - s) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(ms)
end

-- JSON takes strings as UTF-8; server text may hold any bytes. Every
-- string is escaped as on a terminal, so a log reader cannot be fooled
-- or confused by it either. Tables are copied (arrays stay arrays).
local function clean(v, depth)
  local t = type(v)
  if t == "string" then return errors.escape(v) end
  if t == "number" or t == "boolean" then return v end
  if t == "table" and depth < 4 and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do
      if type(k) == "string" or math.type(k) == "integer" then
        out[k] = clean(x, depth + 1)
      end
    end
    return out
  end
  return v ~= nil and errors.escape(tostring(v)) or nil
end

-- cjson 2.1 encodes an empty table as {}; arrays that must stay arrays
-- when empty are marked, and the marker is replaced after encoding.
local EMPTY = ("imapsift_empty_array_%d_%d"):format(os.time(),
  math.random(1, 1 << 30))
local empty_array = cjson.empty_array or EMPTY

local function array(t)
  if #t > 0 then return t end
  if cjson.array_mt then return setmetatable(t, cjson.array_mt) end
  return empty_array
end

local function encode(doc)
  local ok, s = pcall(cjson.encode, doc)
  if not ok then return nil, s end
  return (s:gsub('"' .. EMPTY .. '"', "[]"))
end
M.encode = encode

-- The log file (or nil), appended to and flushed after each line (it is
-- tailed while the command runs).
local function file_write(s)
  if cfg.fh then
    cfg.fh:write(s)
    cfg.fh:flush()
  end
end

-- Opens path for appending; a new file is created 0600 (through core
-- when it offers that: plain io.open leaves the mode to the umask).
local function open_append(path, what)
  local probe = io.open(path, "r")
  if probe then
    probe:close()
  elseif core.write_file_atomic then
    core.write_file_atomic(path, "", 384) -- 0600
  end
  local fh, err = io.open(path, "a")
  if not fh then
    errors.raise{ kind = "io", command = what, text = tostring(err) }
  end
  return fh
end

-- Clears a progress line before a log line takes its place.
local function clear_progress()
  local p = cfg.progress
  if p.shown then
    local w = cfg.progress_writer or cfg.stderr
    w("\r\27[K")
    p.shown = false
  end
end

local function json_line(level, text, fields)
  local obj = {}
  for k, v in pairs(fields or {}) do obj[k] = clean(v, 0) end
  obj.time, obj.level, obj.msg = M.iso(), level, errors.escape(text)
  return encode(obj)
end

-- emit(level, text, fields, to_stdout): the one writer of log lines.
local function emit(level, text, fields, to_stdout)
  if M.LEVELS[level] > cfg.level and level ~= "error" then return end
  text = tostring(text)
  local js = cfg.format == "json" and json_line(level, text, fields)
  if to_stdout then
    cfg.stdout(errors.escape(text) .. "\n")
  else
    clear_progress()
    cfg.stderr((js or ("imapsift: " .. errors.escape(text))) .. "\n")
  end
  if cfg.fh then
    file_write((js or (M.iso() .. " " .. LABEL[level] .. " " ..
      errors.escape(text))) .. "\n")
  end
end

function M.error(text, fields) emit("error", text, fields) end
function M.warn(text, fields) emit("warn", text, fields) end
function M.info(text, fields) emit("info", text, fields) end
function M.verbose(text, fields) emit("verbose", text, fields) end
function M.debug(text, fields) emit("debug", text, fields) end

-- at(level, text, fields): a line at a level named by the caller
-- ("error", "warn", "info", "verbose", "debug"; anything else is
-- "info"), e.g. for watch.new{ log = log.at }.
function M.at(level, text, fields)
  emit(M.LEVELS[level] and level or "info", text, fields)
end

-- The fields of an action entry in a JSON line.
local ACTION_FIELDS = { "account", "mailbox", "action", "destination",
  "destination_account", "count", "flags", "rule", "dry", "note" }

local function action_fields(e)
  local f = { event = "action" }
  for _, k in ipairs(ACTION_FIELDS) do f[k] = e[k] end
  if e.uids and #e.uids > 0 then f.uids = set.compress(e.uids) end
  if cfg.level >= 1 and e.message_ids and #e.message_ids > 0 then
    f.message_ids = e.message_ids
  end
  return f
end

local ENTRY_LEVEL = { action = "info", warning = "warn",
  rule_error = "error" }

-- plan_sink(line, entry): plan.log while the log is set up. Action lines
-- are the plan: on standard output in a dry run (plan_to_stdout).
local function plan_sink(line, entry)
  local event = type(entry) == "table" and entry.event
  if event == "action" then
    return emit("info", line, action_fields(entry), cfg.plan_to_stdout)
  end
  emit(ENTRY_LEVEL[event] or "info", line, type(entry) == "table" and entry
    or nil)
end
M.plan_sink = plan_sink

local function close_file()
  if cfg.fh then
    cfg.fh:close()
    cfg.fh = nil
  end
end

local function check_setup(o)
  local lv = o.level
  if lv ~= nil and (math.type(lv) ~= "integer" or lv < -1 or lv > 2) then
    errors.usage("log.setup", "level must be an integer from -1 to 2")
  end
  if o.format ~= nil and o.format ~= "text" and o.format ~= "json" then
    errors.usage("log.setup", "format must be \"text\" or \"json\", not %s",
      errors.escape(tostring(o.format)))
  end
  if o.file ~= nil and type(o.file) ~= "string" then
    errors.usage("log.setup", "file must be a path (string)")
  end
end

-- setup{ level, format, file, plan_to_stdout } (see contract): may be
-- called again (SIGHUP, tests); the previous file is closed. For tests:
-- stderr, stdout and progress_writer (functions taking a string), tty
-- (boolean instead of asking core.isatty(2)) and clock (seconds).
function M.setup(o)
  o = o or {}
  if type(o) ~= "table" then errors.usage("log.setup", "table expected") end
  check_setup(o)
  local fh = o.file and open_append(o.file, "log file " .. o.file)
  close_file()
  cfg = defaults()
  cfg.level, cfg.format = o.level or 0, o.format or "text"
  cfg.plan_to_stdout = o.plan_to_stdout and true or false
  cfg.stderr, cfg.stdout = o.stderr or cfg.stderr, o.stdout or cfg.stdout
  cfg.progress_writer, cfg.tty, cfg.clock = o.progress_writer, o.tty, o.clock
  cfg.fh, cfg.file = fh, o.file
  plan.log = plan_sink
  plan.verbose(cfg.level >= 1)
  connection.on_progress = M.progress
end

-- reset(): back to the defaults: the file closed, plan.log and the
-- connection's progress hook as before setup().
function M.reset()
  close_file()
  cfg = defaults()
  if plan.log == plan_sink then plan.log = default_plan_log end
  if connection.on_progress == M.progress then
    connection.on_progress = nil
  end
end

-- level() -> the configured level.
function M.level() return cfg.level end

-- summary{ examined, moved, copied, deleted, flagged, errors, seconds,
-- dry }: the run's last line.
function M.summary(s)
  local n = {}
  for _, k in ipairs{ "examined", "moved", "copied", "deleted", "flagged",
    "errors" } do
    n[k] = math.tointeger(s[k] or 0) or 0
  end
  local secs = tonumber(s.seconds) or 0
  local text = ("run finished: %d examined, %d moved, %d copied, " ..
    "%d deleted, %d flagged, %d errors in %.1f s%s"):format(n.examined,
    n.moved, n.copied, n.deleted, n.flagged, n.errors, secs,
    s.dry and " (dry run)" or "")
  n.event, n.dry = "summary", s.dry and true or false
  n.seconds = math.floor(secs * 1000 + 0.5) / 1000 -- milliseconds: enough
  emit("info", text, n)
end

local function is_tty()
  if cfg.tty ~= nil then return cfg.tty end
  return core.isatty ~= nil and core.isatty(2) == true
end

-- progress(what, done, total): "what: done/total" redrawn in place on a
-- terminal, at most every PROGRESS_INTERVAL s; erased when done >= total.
function M.progress(what, done, total)
  if cfg.level < 0 or not is_tty() then return end
  local p, w = cfg.progress, cfg.progress_writer or cfg.stderr
  if done >= total then return clear_progress() end
  local t = (cfg.clock or core.monotonic or os.time)()
  if p.shown and p.at and t - p.at < M.PROGRESS_INTERVAL then return end
  w(("\r%s: %d/%d\27[K"):format(errors.escape(tostring(what)), done, total))
  p.shown, p.at = true, t
end

-- trace_writer(path) -> function(dir, line) appending
-- "<time> <dir>: <line>" to path (created 0600), for a connection's
-- trace option. The connection has already replaced secrets by "***".
function M.trace_writer(path)
  if type(path) ~= "string" then
    errors.usage("trace_writer", "bad argument #1 (path expected)")
  end
  local fh = open_append(path, "trace file " .. path)
  return function(dir, line)
    fh:write(M.iso(), " ", errors.escape(tostring(dir)), ": ",
      errors.escape(tostring(line)), "\n")
    fh:flush()
  end
end

-- A plan entry as JSON wants it: known fields, uids as an array.
local function plan_entry(e)
  local out = {}
  for _, k in ipairs(ACTION_FIELDS) do out[k] = clean(e[k], 0) end
  local uids = {}
  for i, u in ipairs(e.uids or {}) do uids[i] = u end
  out.uids = array(uids)
  if e.flags then out.flags = array(clean(e.flags, 0)) end
  if e.message_ids then out.message_ids = array(clean(e.message_ids, 0)) end
  return out
end

local function write_atomic(path, data)
  if core.write_file_atomic then
    return core.write_file_atomic(path, data, 384) -- 0600: names and ids are private
  end
  local tmp = path .. ".tmp"
  local fh, err = io.open(tmp, "w")
  if not fh then return nil, err end
  local ok, werr = fh:write(data)
  fh:close()
  if not ok then os.remove(tmp) return nil, werr end
  return os.rename(tmp, path)
end

-- write_plan(path, entries, summary): the plan as a JSON document
-- { dry_run, entries = [...], summary = [...] }, replacing path
-- atomically. Raises kind "io" naming the file on failure.
function M.write_plan(path, entries, summary)
  if type(path) ~= "string" then
    errors.usage("write_plan", "bad argument #1 (path expected)")
  end
  local list = {}
  for i, e in ipairs(entries or {}) do list[i] = plan_entry(e) end
  local sums = {}
  for i, s in ipairs(summary or {}) do sums[i] = clean(s, 0) end
  local data, err = encode{ dry_run = plan.is_dry(), entries = array(list),
    summary = array(sums) }
  local ok, werr = false, nil
  if data then ok, werr = write_atomic(path, data .. "\n") end
  if not ok then
    errors.raise{ kind = "io", command = "plan file " .. path,
      text = tostring(werr or err) }
  end
  return true
end

return M
