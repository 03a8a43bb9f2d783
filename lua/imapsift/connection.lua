-- imapsift.connection: the connection object. Opens the transport (TCP,
-- implicit TLS, mandatory STARTTLS, or a subprocess stream), logs in, and
-- offers imaplib's commands as methods that return parsed Lua values.
-- Every command goes through one place (run), every mutating command
-- through mutate (where a dry run can intercept it), and every untagged
-- response through absorb (mailbox state, capabilities, alerts).
-- RFC 3501, RFC 9051, RFC 2595 (STARTTLS), RFC 4315 (UIDPLUS), RFC 6851
-- (MOVE), RFC 7888 (LITERAL+), RFC 4731 (ESEARCH), RFC 2971 (ID),
-- RFC 5161 (ENABLE), RFC 3691 (UNSELECT), RFC 7162 (CONDSTORE, and
-- QRESYNC's VANISHED).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local auth = require "imapsift.auth"
local set = require "imapsift.set"

local M = {}
local Connection = {}
Connection.__index = Connection
M.Connection = Connection

local DEFAULT_PORT = { implicit = 993, starttls = 143, none = 143 }
local MAX_LINE = 8000 -- a safe command length for every server

local usage = errors.usage

---------------------------------------------------------------------------
-- Responses

-- Default bounds on what a server can make the client keep (README,
-- "Safety"); opts.limits overrides each.
M.LIMITS = {
  max_unsolicited = 1000,        -- responses a command did not ask for
  max_unsolicited_bytes = 1 << 20,
  max_uids = 2000000,            -- UIDs expanded from server sets, per command
  max_kept = 1000,               -- responses kept for response()
  max_kept_bytes = 1 << 20,
}

-- What each command asks for (its first word, "UID" skipped): untagged
-- responses of other types are unsolicited and capped per command.
local SOLICITS = {
  FETCH = { FETCH = true }, STORE = { FETCH = true },
  SEARCH = { SEARCH = true, ESEARCH = true },
  SORT = { SORT = true, ESEARCH = true }, THREAD = { THREAD = true },
  LIST = { LIST = true }, LSUB = { LSUB = true }, STATUS = { STATUS = true },
  CAPABILITY = { CAPABILITY = true }, NAMESPACE = { NAMESPACE = true },
  ID = { ID = true }, ENABLE = { ENABLED = true },
  SELECT = { FLAGS = true, LIST = true }, EXAMINE = { FLAGS = true, LIST = true },
  GETACL = { ACL = true }, MYRIGHTS = { MYRIGHTS = true },
  LISTRIGHTS = { LISTRIGHTS = true }, GETQUOTA = { QUOTA = true },
  GETQUOTAROOT = { QUOTAROOT = true, QUOTA = true },
  GETMETADATA = { METADATA = true }, GETANNOTATION = { ANNOTATION = true },
}

local function command_word(name)
  name = name:upper()
  return name:match("^UID (%S+)") or name:match("^%S+")
end

-- The limit named key, from opts.limits or the defaults.
function Connection:limit(key)
  local l = self.opts and self.opts.limits
  return (l and l[key]) or M.LIMITS[key]
end

-- remember(r, size): keep r for response(). Bounded in count and bytes
-- across every response name: past a bound the older half of each list
-- goes (response() is imaplib's convenience, not a log).
function Connection:remember(r, size)
  local acc = self.untagged[r.type]
  if not acc then acc = {}; self.untagged[r.type] = acc end
  self.kept = (self.kept or 0) + 1
  self.kept_bytes = (self.kept_bytes or 0) + (size or 0)
  if self.kept > self:limit("max_kept") or
      self.kept_bytes > self:limit("max_kept_bytes") then
    self:forget_older()
  end
  acc[#acc + 1] = r
end

function Connection:forget_older()
  local kept = 0
  for typ, list in pairs(self.untagged) do
    local keep = #list // 2
    table.move(list, #list - keep + 1, #list, 1)
    for i = #list, keep + 1, -1 do list[i] = nil end
    if keep == 0 then self.untagged[typ] = nil end
    kept = kept + keep
  end
  self.kept, self.kept_bytes = kept, self.kept_bytes // 2
end

-- Untagged data that only updates the selected mailbox: folded into
-- self.mailbox, never collected per command. A FETCH is such an update
-- unless the command asked for FETCH responses (and, for a UID command,
-- it carries a UID: without one it is about some other message).
local STATE = { EXISTS = true, RECENT = true, EXPUNGE = true,
  VANISHED = true }

-- vanished_of(r) -> the UID set of a VANISHED response (RFC 7162 3.2.10)
-- as a string and whether it is EARLIER; nil when malformed.
local function vanished_of(r)
  local a = r.args or {}
  local earlier = type(a[1]) == "table"
  if earlier and not (#a[1] == 1 and type(a[1][1]) == "string" and
      a[1][1]:upper() == "EARLIER") then
    return nil
  end
  local s = a[earlier and 2 or 1]
  if #a ~= (earlier and 2 or 1) then return nil end
  if math.type(s) == "integer" then s = tostring(s) end
  if type(s) ~= "string" or not s:match("^%d[%d:,]*$") then return nil end
  return s, earlier
end
M.vanished_of = vanished_of

local function folds(r, intake)
  if STATE[r.type] then return true end
  return r.type == "FETCH" and
    (not intake.solicits.FETCH or (intake.uid and r.uid == nil))
end

function Connection:absorb(r)
  local t = r.type
  local box = self.mailbox
  if t == "EXISTS" and box then box.exists = r.n
  elseif t == "RECENT" and box then box.recent = r.n
  elseif t == "EXPUNGE" and box and box.exists then
    box.exists = math.max(box.exists - 1, 0)
  elseif t == "VANISHED" and box and box.exists then
    -- After ENABLE QRESYNC expunges come as VANISHED (RFC 7162 3.2.7);
    -- VANISHED (EARLIER) names mail that was gone before, not now.
    local s, earlier = vanished_of(r)
    local n = s and not earlier and set.count(s)
    if n then box.exists = math.max(box.exists - n, 0) end
  elseif t == "FLAGS" and box then box.flags = r.flags
  elseif t == "CAPABILITY" then self:set_capabilities(r.caps)
  elseif t == "BYE" then self.bye = r
  end
  if r.code then self:absorb_code(r) end
end

-- An ALERT read before STARTTLS completed may come from anyone on the
-- path: it is traced, never shown as the server's word.
function Connection:plaintext_phase()
  return self.tls_mode == "starttls" and not self.tls_active
end

function Connection:absorb_code(r)
  local name, box = r.code.name, self.mailbox
  if name == "CAPABILITY" then
    self:set_capabilities(r.code.value)
  elseif name == "ALERT" and not self:plaintext_phase() then
    self.alerts[#self.alerts + 1] = r.text
    self:call_alert(r.text)
  elseif box and name == "READ-ONLY" and box.readonly == false then
    box.readonly = true
    self.became_readonly = true
  elseif box and (name == "UIDNEXT" or name == "UIDVALIDITY" or
      name == "UNSEEN" or name == "HIGHESTMODSEQ") then
    box[name:lower()] = r.code.value
  elseif box and name == "PERMANENTFLAGS" then
    box.permanentflags = r.code.value
  end
end

-- The alert callback runs with the connection marked busy: a callback
-- that tries to run a command gets a "usage" error (in_callback).
function Connection:call_alert(text)
  self.in_callback = (self.in_callback or 0) + 1
  local ok, err = pcall(self.on_alert, text)
  self.in_callback = self.in_callback - 1
  if not ok then error(err, 0) end
end

function Connection:set_capabilities(list)
  local caps = {}
  for _, c in ipairs(list or {}) do caps[c:upper()] = true end
  self.capabilities = caps
end

-- The error a failed core read or write becomes: the BYE that explains a
-- closed connection when there was one.
function Connection:link_error(err, command)
  if self.bye and (err.kind == "closed" or err.kind == "io") then
    return errors.from_bye(self.bye, command)
  end
  return errors.from_core(err, command)
end

-- read_response(command [, deadline [, tag]]) -> response, bytes: reads
-- one response (with tag: one for that command's reader) before the
-- deadline (core.monotonic seconds), or raises a structured error naming
-- command. Each wait for bytes is bounded by the read timeout.
function Connection:read_response(command, deadline, tag)
  local budget = deadline and self:time_left(deadline, command)
  local r, size = self.conn:read(nil, tag, budget)
  if not r then
    -- A wait the deadline cut short (poll's millisecond rounding aside).
    if size.kind == "timeout" and deadline then
      self:time_left(deadline - 0.01, command)
    end
    error(self:link_error(size, command), 0)
  end
  return r, size
end

---------------------------------------------------------------------------
-- Running commands

function Connection:command_flags()
  local caps = self.capabilities
  return {
    literal_plus = caps["LITERAL+"], literal_minus = caps["LITERAL-"],
    utf8 = self.utf8, binary = caps.BINARY,
  }
end

-- The default whole-command deadline (opts.command_timeout, seconds).
M.COMMAND_TIMEOUT = 600

local now = core.monotonic

function Connection:deadline()
  return now() + (self.opts.command_timeout or M.COMMAND_TIMEOUT)
end

-- Seconds left before deadline; raises kind "timeout" once it is past.
function Connection:time_left(deadline, what)
  local left = deadline - now()
  if left <= 0 then
    errors.raise{ kind = "timeout", command = what,
      text = ("no completion within %g s (command_timeout)"):format(
        self.opts.command_timeout or M.COMMAND_TIMEOUT) }
  end
  return left
end

-- A connection the script shut down is a usage error to use; one the
-- session dropped (self.dropped says why) or that broke raises kind
-- "closed", or reconnects first when opts.reconnect is set (true, or the
-- options of reconnect(): retries, base, cap...).
function Connection:check_usable(what)
  local lost = self.dropped or (self.conn and self.conn:closed() and
    "the connection was lost")
  if lost and self.opts.reconnect and (self.in_callback or 0) == 0 then
    self.lost_mailbox = self.lost_mailbox or self.mailbox
    local again = self.opts.reconnect
    -- reconnect.lua stands on this module; it is loaded by now.
    require("imapsift.reconnect").reconnect(self,
      type(again) == "table" and again or nil)
    return
  end
  if self.conn == nil and self.dropped then
    errors.raise{ kind = "closed", command = what, text = self.dropped }
  elseif self.conn == nil then
    usage(what, "connection is closed")
  end
  if (self.in_callback or 0) > 0 then
    usage(what, "the connection cannot be used from its alert callback")
  end
end

-- settle(what): before a new command, reads until every abandoned
-- command has completed, keeping only their mailbox state changes. A
-- server that does not complete them in time costs the connection: its
-- answers could otherwise be taken for a later command's.
function Connection:settle(what)
  if self.conn:abandoned() == 0 then return end
  local deadline = self:deadline()
  local ok, err = pcall(function()
    while self.conn:abandoned() > 0 do
      -- "*" is no command's tag: only stale and unowned responses come.
      local r = self:read_response(what, deadline, "*")
      if r.kind == "untagged" then self:dispatch(r, what) end
    end
  end)
  if not ok then
    self:drop("connection dropped: an abandoned command did not " ..
      "complete (" .. tostring(err) .. ")")
    errors.raise{ kind = "closed", command = what, text = self.dropped }
  end
end

-- send(name, args, what) -> tag; what names the command in errors.
function Connection:send(name, args, what)
  what = what or name
  self:check_usable(what)
  self:settle(what)
  local tag, err = self.conn:send(name, args, self:command_flags(),
    self:time_left(self:deadline(), what))
  if not tag then
    local e = errors.from_core(err, what)
    if self.conn:closed() then
      self:bye_error(what)
      self:drop("connection lost: " .. tostring(e))
    end
    error(e, 0)
  end
  return tag
end

-- A send that failed while a literal waited for "+" may have held a BYE
-- that says why the server hung up: raise that instead of "closed".
function Connection:bye_error(what)
  while true do
    local r = self.conn:read(0)
    if not r then break end
    if r.kind == "untagged" then self:absorb(r) end
  end
  if self.bye then
    local e = errors.from_bye(self.bye, what)
    self:drop("the server closed the connection: " .. tostring(e))
    error(e, 0)
  end
end

-- dispatch(r, what): the bookkeeping every untagged response gets:
-- absorbed into the session's state; a BYE raises kind "bye" (except
-- during LOGOUT).
function Connection:dispatch(r, what)
  self:absorb(r)
  if r.type == "BYE" and not self.logging_out then
    local e = errors.from_bye(r, what)
    self:drop("the server closed the connection: " .. tostring(e))
    error(e, 0)
  end
end

-- drop(reason): the session itself gives up the link; later calls raise
-- kind "closed" with reason, or reconnect when opts.reconnect asks for it
-- (the mailbox selected now is selected again).
function Connection:drop(reason)
  self.lost_mailbox = self.mailbox
  self:shutdown()
  self.dropped = reason
end

-- The per-command record of what was received: data (the collected
-- responses) and the budgets that bound it.
local function new_intake(self, name)
  return {
    data = {}, solicits = SOLICITS[command_word(name or "")] or {},
    uid = (name or ""):upper():find("^UID ") ~= nil,
    unsolicited = 0, unsolicited_bytes = 0, uids = 0,
    max_unsolicited = self:limit("max_unsolicited"),
    max_unsolicited_bytes = self:limit("max_unsolicited_bytes"),
    max_uids = self:limit("max_uids"),
  }
end

local function over(what, text)
  errors.raise{ kind = "limit", command = what, text = text }
end

-- Counts an unsolicited response against the command's caps.
local function count_unsolicited(intake, size, what)
  intake.unsolicited = intake.unsolicited + 1
  intake.unsolicited_bytes = intake.unsolicited_bytes + (size or 0)
  if intake.unsolicited > intake.max_unsolicited or
      intake.unsolicited_bytes > intake.max_unsolicited_bytes then
    over(what, ("server sent more than %d responses or %d bytes the " ..
      "command did not ask for"):format(intake.max_unsolicited,
      intake.max_unsolicited_bytes))
  end
end

-- The intake of the command each data array came from (weak keys: it
-- goes with the data).
local intakes = setmetatable({}, { __mode = "k" })

-- count_uids(data, n, what): n more UIDs expanded from server sets
-- (SEARCH results, ESEARCH ALL, COPYUID, APPENDUID) for the command whose
-- data this is; one total per command, not one per set.
function M.count_uids(data, n, what)
  local intake = data and intakes[data]
  if not intake then return end
  intake.uids = intake.uids + n
  if intake.uids > intake.max_uids then
    over(what, ("server sent more than %d UIDs for one command " ..
      "(limits.max_uids)"):format(intake.max_uids))
  end
end

-- limit_of(data, key) -> the limit in force for the command of data.
function M.limit_of(data, key)
  local intake = data and intakes[data]
  return intake and intake[key] or M.LIMITS[key]
end

-- uid_room(data) -> how many more UIDs the command of data may expand.
function M.uid_room(data)
  local intake = data and intakes[data]
  if not intake then return M.LIMITS.max_uids end
  return math.max(intake.max_uids - intake.uids, 0)
end

-- take_vanished(intake, r, what): a VANISHED response's UIDs, expanded
-- against the command's cap on UIDs, in data.vanished (expunged now) or
-- data.vanished_earlier (gone before: SELECT with QRESYNC, RFC 7162
-- 3.2.5.2). A malformed one fails the command once it completes.
local function take_vanished(intake, r, what)
  local s, earlier = vanished_of(r)
  local n = s and set.count(s)
  if not n then
    intake.malformed = intake.malformed or "bad VANISHED response"
    return
  end
  M.count_uids(intake.data, n, what)
  local key = earlier and "vanished_earlier" or "vanished"
  local list = intake.data[key] or {}
  intake.data[key] = list
  for _, uid in ipairs(set.expand(s, n)) do list[#list + 1] = uid end
end

-- take(intake, r, size, each, what): one untagged response for the
-- command being waited for.
function Connection:take(intake, r, size, each, what)
  if r.malformed then -- fails the command once it completes
    intake.malformed = intake.malformed or r.malformed
    return
  end
  self:dispatch(r, what)
  local solicited = intake.solicits[r.type]
  if folds(r, intake) then
    local data = intake.data
    if r.type == "EXPUNGE" then
      local ex = data.expunged or {}
      data.expunged = ex
      ex[#ex + 1] = r.n
      M.count_uids(data, 1, what)
    elseif r.type == "VANISHED" then
      take_vanished(intake, r, what)
    elseif r.type ~= "FETCH" then
      data[r.type:lower()] = r.n
    elseif self.mailbox then -- another client changed flags
      self.mailbox.flag_updates = (self.mailbox.flag_updates or 0) + 1
    end
    self:remember(r, size)
    if each then each(r) end -- a watcher (IDLE, NOOP polling) still hears it
    return
  end
  if each and each(r) then return end
  if not solicited then count_unsolicited(intake, size, what) end
  if r.nums then M.count_uids(intake.data, #r.nums, what) end
  intake.data[#intake.data + 1] = r
  self:remember(r, size)
end

-- collect(tag, what, each, name) -> tagged response, data
function Connection:collect(tag, what, each, name)
  local intake = new_intake(self, name)
  intakes[intake.data] = intake
  local deadline = self:deadline()
  while true do
    local r, size = self:read_response(what, deadline, tag)
    if r.stale then
      if r.kind == "untagged" then self:dispatch(r, what) end
    elseif r.kind == "tagged" then
      return self:finish(r, what, intake.malformed), intake.data
    elseif r.kind == "untagged" then
      self:take(intake, r, size, each, what)
    elseif r.malformed then -- a continuation nobody asked for
      intake.malformed = intake.malformed or r.malformed
    end
  end
end

-- Errors in flight: Lua's own memory error becomes a structured value.
local function structured(err, what)
  if type(err) == "string" and err:find("not enough memory", 1, true) then
    return errors.new{ kind = "nomem", command = what,
      text = "not enough memory" }
  end
  return err
end

-- wait(tag, what, each [, name]) -> tagged response, data
-- Reads until tag completes. Untagged responses are absorbed and
-- collected, or handed to each(r) (streaming) when each returns true for
-- them; mailbox updates (EXISTS, RECENT, EXPUNGE, unasked FETCH) are
-- folded into self.mailbox (data.exists, data.recent and data.expunged
-- say what came). Raises on NO, BAD, BYE, transport failures, a broken
-- limit or deadline, and whatever each raises: then the command is
-- abandoned, and its late answers are never taken for another's.
function Connection:wait(tag, what, each, name)
  local ok, tagged, data = pcall(self.collect, self, tag, what, each, name)
  if ok then return tagged, data end
  local err = structured(tagged, what)
  if self.conn and self.conn:closed() then
    self:drop("connection lost: " .. tostring(err))
  elseif self.conn then
    self.conn:abandon(tag)
  end
  error(err, 0)
end

-- Checks a tagged completion: NO and BAD raise; a malformed response
-- that belonged to the command raises kind "protocol" (the session goes
-- on); a mailbox that turned read-only raises "readonly" (imaplib's
-- readonly).
function Connection:finish(r, what, malformed)
  if r.code then self:absorb_code(r) end
  malformed = r.malformed or malformed
  if malformed then
    errors.raise{ kind = "protocol", command = what,
      text = "server sent a malformed response: " .. malformed }
  end
  if r.status ~= "OK" then error(errors.from_response(r, what), 0) end
  if self.became_readonly then
    self.became_readonly = false
    errors.raise{ kind = "readonly", command = what, code = "READ-ONLY",
      text = "mailbox " .. (self.mailbox and self.mailbox.name or "?") ..
        " is now read-only" }
  end
  return r
end

-- run(name, args, what, each) -> tagged, data
function Connection:run(name, args, what, each)
  local tag = self:send(name, args, what)
  return self:wait(tag, what, each, name)
end

-- How many commands run_window keeps in flight (opts.pipeline_window).
M.PIPELINE_WINDOW = 8

-- on_progress(what, done, total), when set (imapsift.log sets it): told
-- after each command of a run_window of several, so that a long batch
-- can show how far it got.
M.on_progress = nil

-- run_window(n, make, on_done [, each]): runs n commands with several in
-- flight at once (pipelining; replies are matched by tag). make(i) ->
-- name, args, what gives command i; on_done(i, tagged, data) is called
-- in order as each completes. A failure abandons the commands still in
-- flight (their late replies are dropped) and raises the first error.
function Connection:run_window(n, make, on_done, each)
  local window = self.opts.pipeline_window or M.PIPELINE_WINDOW
  local tags, names, whats, sent = {}, {}, {}, 0
  for i = 1, n do
    while sent < n and sent < i - 1 + window do
      local k = sent + 1
      local name, args, what = make(k)
      local ok, tag = pcall(self.send, self, name, args, what)
      if not ok then
        self:abandon_all(tags, i)
        error(tag, 0)
      end
      tags[k], names[k], whats[k], sent = tag, name, what or name, k
    end
    local ok, tagged, data = pcall(self.wait, self, tags[i], whats[i], each,
      names[i])
    if not ok then
      self:abandon_all(tags, i + 1)
      error(tagged, 0)
    end
    on_done(i, tagged, data)
    if M.on_progress and n > 1 then M.on_progress(names[i], i, n) end
  end
end

-- pipeline(commands) -> array of { tagged, data } in order: independent
-- commands { name, args [, what] } issued together.
function Connection:pipeline(commands)
  if self.intercept then
    usage("pipeline", "pipeline() sends commands as given; it is refused " ..
      "while a dry run's interceptor is installed")
  end
  local out = {}
  self:run_window(#commands, function(i)
    local c = commands[i]
    return c[1], c[2], c[3]
  end, function(i, tagged, data) out[i] = { tagged, data } end)
  return out
end

function Connection:abandon_all(tags, from)
  if not self.conn or self.conn:closed() then return end
  for i = from or 1, #tags do self.conn:abandon(tags[i]) end
end

-- mutate(name, args, what, each [, info]): the single door for commands
-- that change mail or mailboxes. Under a dry run (self.intercept set)
-- nothing is sent: the interceptor hears of it through intercepted(),
-- with info (or name, args and what when the caller gave none).
function Connection:mutate(name, args, what, each, info)
  if self.intercept then
    return self:intercepted(info or
      { command = name, args = args, what = what })
  end
  return self:run(name, args, what, each)
end

-- intercepted(info) -> whatever the interceptor returns. info describes
-- the change a real run would make (README, "Dry runs", lists every
-- field); the fields every call has are filled in here. Methods call it
-- before splitting a long set, so one call covers one operation.
function Connection:intercepted(info)
  local box = self.mailbox and self.mailbox.name
  info.selected = box
  if info.mailbox == nil then info.mailbox = box end
  info.what = info.what or info.command
  return self.intercept(info)
end

-- ALERTs must reach the user (RFC 9051 7.1): by default on stderr,
-- escaped so that the server cannot drive the terminal.
function M.show_alert(text)
  io.stderr:write("imapsift: server alert: ", errors.escape(text or ""), "\n")
end

---------------------------------------------------------------------------
-- Connecting

-- Logging in lives in auth.lua; these are imaplib's names for it. connect
-- calls auth's functions itself, so this module works on its own.
Connection.login = auth.login
Connection.login_cram_md5 = auth.login_cram_md5
Connection.authenticate = auth.authenticate
Connection.login_with = auth.login_with
Connection.sasl_login = auth.sasl_login

-- The Lua types each connect option takes. Unknown keys are left alone:
-- other parts of the library read options of their own.
local OPTION_TYPES = {
  host = "string", port = { number = true, string = true },
  tls = "string", servername = "string", ca_file = "string",
  ca_path = "string", verify = "boolean", allow_plaintext = "boolean",
  command = "string", secure = "boolean", timeout = "number",
  secret_timeout = "number", limits = "table", max_line = "number",
  on_alert = "function", debug = { number = true, boolean = true },
  trace = { boolean = true, ["function"] = true, number = true },
  command_timeout = "number", pipeline_window = "number",
  reconnect = { boolean = true, table = true },
  compress = { boolean = true, string = true },
}

local function option_error(fmt, ...) usage("connect", fmt, ...) end

local function type_ok(want, t)
  if type(want) == "string" then return t == want end
  return want[t] == true
end

local function type_names(want)
  if type(want) == "string" then return want end
  local names = {}
  for t in pairs(want) do names[#names + 1] = t end
  table.sort(names)
  return table.concat(names, " or ")
end

-- A number option that must be > 0 (NaN is not), an integer if asked.
local function check_positive(opts, name, integer)
  local v = opts[name]
  if v == nil then return end
  if v ~= v or v <= 0 or (integer and math.type(v) ~= "integer") then
    option_error("option %s must be %s > 0, not %s", name,
      integer and "an integer" or "a number of seconds", tostring(v))
  end
end

-- The parser's limits (c/lua_parser.c) are >= 1; the session's own
-- caps may be 0.
local PARSER_LIMITS = { max_line = true, max_literal = true,
  max_response = true, max_depth = true, max_nodes = true }

local function check_limits(limits)
  for k, v in pairs(limits or {}) do
    local least = PARSER_LIMITS[k] and 1 or 0
    if type(k) ~= "string" or math.type(v) ~= "integer" or v < least then
      option_error("limits.%s must be an integer >= %d, not %s",
        tostring(k), least, tostring(v))
    end
  end
end

-- Credentials over a plain command transport would be readable by
-- whatever the command talks to: the caller must declare it secure (an
-- ssh pipe) or allow plaintext, or use TLS over it.
local function check_command_secrecy(opts, tls)
  if opts.secure and not opts.command then
    option_error("option secure applies to a command transport only")
  end
  if opts.command and auth.has_credentials(opts) and tls == "none" and
      not (opts.secure or opts.allow_plaintext) then
    option_error("refusing to send credentials over a command transport " ..
      "not declared secure (set secure = true for e.g. an ssh pipe, or " ..
      "allow_plaintext)")
  end
end

-- check_options(opts) -> the TLS mode; raises kind "usage" naming the
-- first bad option, before anything is opened or run.
local function check_options(opts)
  for name, want in pairs(OPTION_TYPES) do
    local t = type(opts[name])
    if t ~= "nil" and not type_ok(want, t) then
      option_error("option %s must be a %s, not a %s", name,
        type_names(want), t)
    end
  end
  local tls = opts.tls or (opts.command and "none" or "implicit")
  if not DEFAULT_PORT[tls] then
    option_error("tls must be \"implicit\", \"starttls\" or \"none\", not %q",
      tls)
  end
  check_positive(opts, "timeout")
  check_positive(opts, "secret_timeout")
  check_positive(opts, "command_timeout")
  check_positive(opts, "pipeline_window", true)
  check_positive(opts, "max_line", true)
  if type(opts.port) == "number" and (math.type(opts.port) ~= "integer" or
      opts.port < 1 or opts.port > 65535) then
    option_error("option port must be an integer 1..65535, not %s",
      tostring(opts.port))
  end
  check_limits(opts.limits)
  local bad = auth.check_options(opts)
  if bad then option_error("%s", bad) end
  check_command_secrecy(opts, tls)
  if type(opts.compress) == "string" and opts.compress ~= "auto" then
    option_error("compress must be true, false or \"auto\", not %q",
      opts.compress)
  end
  return tls
end

local function open_transport(opts)
  if opts.command then
    return core.spawn{ command = opts.command, timeout = opts.timeout,
      limits = opts.limits }
  end
  return core.connect{ host = opts.host, port = opts.port,
    timeout = opts.timeout, limits = opts.limits }
end

-- tls_handshake(what [, o]): TLS over the open link; o holds host,
-- servername, ca_file, ca_path and verify (default: the connect options).
-- tls_active is set only once the handshake has succeeded.
function Connection:tls_handshake(what, o)
  o = o or self.opts
  if o.verify == false then
    io.stderr:write("imapsift: warning: TLS certificate verification is ",
      "disabled for ", errors.escape(o.host), "\n")
  end
  local ok, err = self.conn:starttls{ servername = o.servername or o.host,
    ca_file = o.ca_file, ca_path = o.ca_path, verify = o.verify ~= false }
  if not ok then
    local e = errors.from_core(err, what)
    self:shutdown()
    error(e, 0)
  end
  self.tls_active = true
end

function Connection:read_greeting()
  local r = self:read_response("greeting")
  if r.kind ~= "untagged" then
    errors.raise{ kind = "protocol", command = "greeting",
      text = "server did not greet the client" }
  end
  self.greeting = r
  if r.code then self:absorb_code(r) end
  if r.status == "BYE" then
    self:shutdown()
    error(errors.from_bye(r, "greeting"), 0)
  elseif r.status ~= "OK" and r.status ~= "PREAUTH" then
    errors.raise{ kind = "protocol", command = "greeting",
      text = "unexpected greeting: " .. tostring(r.type) }
  end
  return r
end

-- load_capabilities([what]) -> self.capabilities, from a CAPABILITY
-- command run here (not commands.lua's capability()), so that connecting
-- needs this module alone. absorb stores what the server lists.
function Connection:load_capabilities(what)
  what = what or "CAPABILITY"
  local _, data = self:run("CAPABILITY", nil, what)
  for _, r in ipairs(data) do
    if r.type == "CAPABILITY" then return self.capabilities end
  end
  errors.raise{ kind = "protocol", command = what,
    text = "server sent no CAPABILITY response" }
end

-- forget_plaintext(): what was read before TLS may have been written by
-- anyone on the path (RFC 9051 11.1): capabilities, untagged data,
-- completions and ALERT texts all go.
function Connection:forget_plaintext()
  self.capabilities, self.untagged, self.completed, self.alerts =
    {}, {}, {}, {}
end

-- STARTTLS is required, never opportunistic: anything short of a clean
-- upgrade fails before a credential or mailbox name is sent.
-- upgrade_starttls([o]): o as for tls_handshake (Connection:starttls).
function Connection:upgrade_starttls(o)
  if self.greeting.status == "PREAUTH" then
    self:shutdown()
    errors.raise{ kind = "tls", command = "STARTTLS",
      text = "server greeted with PREAUTH on a plaintext connection; " ..
        "refusing to continue without TLS" }
  end
  if not self.capabilities.STARTTLS then self:load_capabilities() end
  if not self.capabilities.STARTTLS then
    self:shutdown()
    errors.raise{ kind = "tls", command = "STARTTLS",
      text = "server does not offer STARTTLS" }
  end
  local ok, err = pcall(self.run, self, "STARTTLS", nil, "STARTTLS")
  if not ok then
    self:shutdown()
    if errors.is(err) then err.kind = "tls" end
    error(err, 0)
  end
  self:tls_handshake("STARTTLS", o)
  self:forget_plaintext()
  self:load_capabilities()
end

-- Whether credentials may go over this link: TLS is up, or the caller
-- declared a command transport secure (an ssh pipe). A command is not
-- secure by itself: it may be a plain TCP relay.
function Connection:secure()
  return self.tls_active == true or
    (self.opts.command ~= nil and self.opts.secure == true)
end

-- Everything after the transport is open: trace, TLS, greeting, login.
local function open_session(self, opts, tls, what)
  -- debug = n (imaplib's levels) applies when trace is not given.
  local trace = opts.trace
  if trace == nil then trace = opts.debug end
  if trace then self:set_trace(trace) end
  if tls == "implicit" then self:tls_handshake(what) end
  self:read_greeting()
  if tls == "starttls" then self:upgrade_starttls() end
  -- A PREAUTH greeting has already authenticated the session.
  if auth.has_credentials(opts) and self:state() == "NONAUTH" then
    auth.login_with(self, opts)
  end
  -- COMPRESS=DEFLATE after login: compress.lua decides. This module
  -- alone leaves it unloaded unless compress = true asks for it.
  local compress = package.loaded["imapsift.compress"]
  if not compress and opts.compress == true then
    compress = require "imapsift.compress"
  end
  if compress then compress.after_login(self, opts) end
end

-- connect(opts) -> connection. See init.lua for the options; a bad one
-- raises kind "usage" before anything is opened.
function M.connect(opts)
  if type(opts) ~= "table" then
    usage("connect", "needs a table of options, not %s", type(opts))
  end
  local tls = check_options(opts)
  opts.host = opts.host or "localhost"
  opts.port = opts.port or DEFAULT_PORT[tls]
  local self = setmetatable({ opts = opts, tls_mode = tls, capabilities = {},
    untagged = {}, completed = {}, alerts = {}, utf8 = false,
    max_line = opts.max_line or MAX_LINE,
    on_alert = opts.on_alert or M.show_alert },
    Connection)
  -- The command may carry secrets (a password on an ssh command line):
  -- no message repeats it.
  local what = opts.command and "connect through command" or
    ("connect to " .. opts.host .. ":" .. opts.port)
  local conn, err = open_transport(opts)
  if not conn then error(errors.from_core(err, what), 0) end
  self.conn = conn
  -- A failure from here on must not leave the socket or child process
  -- open until the garbage collector finds it.
  local ok, e = pcall(open_session, self, opts, tls, what)
  if not ok then self:shutdown(); error(e, 0) end
  return self
end

-- reconnect() is in reconnect.lua: it re-selects the mailbox and ENABLEs
-- extensions again, which are other modules' commands.

---------------------------------------------------------------------------
-- Object basics

function Connection:state()
  if self.conn == nil then return "LOGOUT" end
  return self.conn:state()
end

-- set_trace(t): true, a function(dir, line), false/nil, or an imaplib
-- debug level (a number: see imapsift.trace_level). reconnect() sets
-- the same again on the new link.
function Connection:set_trace(t)
  self.trace_setting = t or false
  if type(t) == "number" then
    t = require("imapsift.util").trace_level(t)
  elseif t == true then
    t = function(dir, line)
      io.stderr:write(dir, ": ", errors.escape(line), "\n")
    end
  elseif not t then
    t = nil
  end
  -- On a closed connection the setting waits for reconnect().
  if self.conn then self.conn:set_trace(t) end
end

-- shutdown(): drop the connection without a word (imaplib's shutdown);
-- also what <close> and garbage collection do. close() is the CLOSE
-- command.
function Connection:shutdown()
  if self.conn then self.conn:close() end
  self.conn = nil
  self.mailbox = nil
  self.dropped = nil -- closed on purpose: using it is a usage error
end

Connection.__close = Connection.shutdown
Connection.__gc = Connection.shutdown

function Connection:__tostring()
  local where = self.opts.command and "command" or
    (self.opts.host .. ":" .. self.opts.port)
  return ("imapsift connection %s (%s)"):format(where, self:state())
end

return M
