-- imapsift.connection: the connection object. Opens the transport (TCP,
-- implicit TLS, mandatory STARTTLS, or a subprocess stream), logs in, and
-- offers imaplib's commands as methods that return parsed Lua values.
-- Every command goes through one place (run), every mutating command
-- through mutate (where a dry run can intercept it), and every untagged
-- response through absorb (mailbox state, capabilities, alerts).
-- RFC 3501, RFC 9051, RFC 2595 (STARTTLS), RFC 4315 (UIDPLUS), RFC 6851
-- (MOVE), RFC 7888 (LITERAL+), RFC 4731 (ESEARCH), RFC 2971 (ID),
-- RFC 5161 (ENABLE), RFC 3691 (UNSELECT), RFC 7162 (CONDSTORE).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local auth = require "imapsift.auth"

local M = {}
local Connection = {}
Connection.__index = Connection
M.Connection = Connection

local DEFAULT_PORT = { implicit = 993, starttls = 143, none = 143 }
local MAX_LINE = 8000 -- a safe command length for every server

local usage = errors.usage

---------------------------------------------------------------------------
-- Responses

-- Remember untagged data by type for response(); update the mailbox and
-- the capabilities; report alerts.
local KEEP = 1000 -- untagged responses kept per type for response()

function Connection:remember(r)
  local acc = self.untagged[r.type]
  if not acc then acc = {}; self.untagged[r.type] = acc end
  if #acc >= KEEP then
    table.move(acc, KEEP // 2 + 1, #acc, 1)
    for i = #acc, KEEP - KEEP // 2 + 1, -1 do acc[i] = nil end
  end
  acc[#acc + 1] = r
end

function Connection:absorb(r)
  local t = r.type
  local box = self.mailbox
  if t == "EXISTS" and box then box.exists = r.n
  elseif t == "RECENT" and box then box.recent = r.n
  elseif t == "EXPUNGE" and box and box.exists then
    box.exists = math.max(box.exists - 1, 0)
  elseif t == "FLAGS" and box then box.flags = r.flags
  elseif t == "CAPABILITY" then self:set_capabilities(r.caps)
  elseif t == "BYE" then self.bye = r
  end
  if r.code then self:absorb_code(r) end
end

function Connection:absorb_code(r)
  local name, box = r.code.name, self.mailbox
  if name == "CAPABILITY" then
    self:set_capabilities(r.code.value)
  elseif name == "ALERT" then
    self.alerts[#self.alerts + 1] = r.text
    self.on_alert(r.text)
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

function Connection:set_capabilities(list)
  local caps = {}
  for _, c in ipairs(list or {}) do caps[c:upper()] = true end
  self.capabilities = caps
end

-- Reads one response or raises a structured error naming command.
function Connection:read_response(command, timeout)
  local r, err = self.conn:read(timeout)
  if not r then
    if self.bye and err.kind == "closed" then
      local e = errors.from_response(self.bye, command)
      e.kind = "bye"
      error(e, 0)
    end
    error(errors.from_core(err, command), 0)
  end
  return r
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

-- send(name, args, what) -> tag; what names the command in errors.
function Connection:send(name, args, what)
  if self.conn == nil then usage(what or name, "connection is closed") end
  local tag, err = self.conn:send(name, args, self:command_flags())
  if not tag then
    if err.kind == "closed" or err.kind == "io" then self:bye_error(what) end
    error(errors.from_core(err, what or name), 0)
  end
  return tag
end

-- A send that failed while a literal waited for "+" may have queued a
-- BYE that says why the server hung up: raise that instead of "closed".
function Connection:bye_error(what)
  while true do
    local r = self.conn:read(0)
    if not r then break end
    if r.kind == "untagged" then self:absorb(r) end
  end
  if self.bye then
    local e = errors.from_response(self.bye, what)
    e.kind = "bye"
    self:shutdown()
    error(e, 0)
  end
end

-- wait(tag, what, each) -> tagged response, untagged responses
-- dispatch(r, what) -> true for untagged data. The bookkeeping for every
-- response that is not the completion being waited for: untagged data is
-- absorbed (a BYE raises kind "bye", except during LOGOUT); the
-- completion of another command in flight is kept for its wait(); one for
-- a tag never sent is a confused or hostile server (remembering it would
-- grow without bound) and raises kind "protocol".
function Connection:dispatch(r, what)
  if r.kind == "tagged" then
    if r.unknown_tag then
      errors.raise{ kind = "protocol", command = what,
        text = "server completed unknown tag " .. tostring(r.tag) }
    end
    self.completed[r.tag] = r
    return false
  elseif r.kind ~= "untagged" then
    return false
  end
  self:absorb(r)
  if r.type == "BYE" and not self.logging_out then
    local e = errors.from_response(r, what)
    e.kind = "bye"
    self:shutdown()
    error(e, 0)
  end
  return true
end

-- wait(tag, what, each) -> tagged response, untagged responses
-- Reads until tag completes. Untagged responses are absorbed and
-- collected, or handed to each(r) (streaming) when each returns true for
-- them. Raises on NO, BAD, BYE and transport failures.
function Connection:wait(tag, what, each)
  local done = self.completed[tag]
  if done then
    -- Completed while another command was being waited for (pipelining);
    -- untagged data went to that command.
    self.completed[tag] = nil
    return self:finish(done, what), {}
  end
  local data = {}
  while true do
    local r = self:read_response(what)
    if r.kind == "tagged" and r.tag == tag then
      return self:finish(r, what), data
    end
    if self:dispatch(r, what) and not (each and each(r)) then
      data[#data + 1] = r
      self:remember(r)
    end
  end
end

-- Checks a tagged completion: NO and BAD raise; a mailbox that turned
-- read-only raises "readonly" (imaplib's readonly).
function Connection:finish(r, what)
  if r.code then self:absorb_code(r) end
  if r.status ~= "OK" then error(errors.from_response(r, what), 0) end
  if self.became_readonly then
    self.became_readonly = false
    errors.raise{ kind = "readonly", command = what, code = "READ-ONLY",
      text = "mailbox " .. (self.mailbox and self.mailbox.name or "?") ..
        " is now read-only" }
  end
  return r
end

-- run(name, args, what, each) -> tagged, untagged array
function Connection:run(name, args, what, each)
  local tag = self:send(name, args, what)
  return self:wait(tag, what, each)
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
end

Connection.__close = Connection.shutdown
Connection.__gc = Connection.shutdown

function Connection:__tostring()
  local where = self.opts.command and "command" or
    (self.opts.host .. ":" .. self.opts.port)
  return ("imapsift connection %s (%s)"):format(where, self:state())
end

return M
