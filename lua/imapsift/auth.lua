-- imapsift.auth: logging in. The LOGIN command, AUTHENTICATE through one
-- SASL driver (the mechanisms are in imapsift.sasl), the choice of a
-- mechanism for connect, and the secrets: passwords and OAuth tokens
-- given as values, functions or commands, fetched afresh at every login
-- and never traced. RFC 3501 / RFC 9051 6.2, RFC 4422 (SASL), RFC 4959
-- (SASL-IR), RFC 2195 (CRAM-MD5), RFC 5802 / 7677 (SCRAM), RFC 7628.
-- Every function takes the connection first; connection.lua requires
-- this module and offers login, login_cram_md5, authenticate and
-- login_with as methods (this module never requires connection.lua).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local sasl = require "imapsift.sasl"

local M = {}

local b64enc, b64dec = core.base64_encode, core.base64_decode
local usage = errors.usage

local function q(s) return '"' .. errors.escape(s) .. '"' end

---------------------------------------------------------------------------
-- Options

-- The values of connect's auth option: SASL mechanisms and the LOGIN
-- command. Which kind of secret each one takes.
local TAKES = {
  PLAIN = "password", LOGIN = "password", ["CRAM-MD5"] = "password",
  ["SCRAM-SHA-1"] = "password", ["SCRAM-SHA-256"] = "password",
  ["LOGIN-COMMAND"] = "password",
  XOAUTH2 = "token", OAUTHBEARER = "token",
}

-- Strongest first. CRAM-MD5 only when asked for: it needs the server to
-- keep the password in the clear and is no better than SCRAM.
local DEFAULT_ORDER = {
  password = { "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN" },
  token = { "OAUTHBEARER", "XOAUTH2" },
}

local SOURCES = {
  password = "password", password_command = "password",
  token = "token", token_command = "token",
}
local SOURCE_TYPES = { password = { string = true },
  password_command = { string = true },
  token = { string = true, ["function"] = true },
  token_command = { string = true } }

-- The secret option given (name, kind), or nil; an error message when
-- there are several.
local function source_of(opts)
  local found
  for name in pairs(SOURCES) do
    if opts[name] ~= nil then
      if found then
        return nil, nil, "give only one of password, password_command, " ..
          "token and token_command"
      end
      found = name
    end
  end
  return found, found and SOURCES[found]
end

-- check_options(opts) -> nil, or a message saying what is wrong with the
-- login options of connect (nothing is run or sent).
function M.check_options(opts)
  local name, kind, err = source_of(opts)
  if err then return err end
  if opts.user ~= nil and type(opts.user) ~= "string" then
    return "user must be a string"
  end
  if opts.user and not name then
    return "user given without password, password_command, token or " ..
      "token_command"
  end
  if name and not opts.user then return name .. " given without user" end
  if opts.authzid ~= nil and type(opts.authzid) ~= "string" then
    return "authzid must be a string"
  end
  if name and not SOURCE_TYPES[name][type(opts[name])] then
    return name .. " has the wrong type (" .. type(opts[name]) .. ")"
  end
  local auth = opts.auth
  if auth == nil then return nil end
  if type(auth) ~= "string" or not TAKES[auth:upper()] then
    return "unknown auth " .. tostring(auth) .. " (PLAIN, LOGIN, " ..
      "CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER or " ..
      "LOGIN-COMMAND)"
  end
  if kind and TAKES[auth:upper()] ~= kind then
    return ("auth %s needs a %s, not %s"):format(auth:upper(),
      TAKES[auth:upper()], name)
  end
  return nil
end

-- has_credentials(opts) -> whether connect should log in.
function M.has_credentials(opts)
  return opts.user ~= nil
end

---------------------------------------------------------------------------
-- Secrets

-- A secret command that has not finished in this many seconds (option
-- secret_timeout) is killed with everything it started; one that prints
-- more than MAX_SECRET_OUTPUT bytes too.
M.DEFAULT_SECRET_TIMEOUT = 60
local MAX_SECRET_OUTPUT = 64 * 1024

-- Runs the user's command (through /bin/sh, as the user wrote it) and
-- returns the first line of what it printed. Errors name the option and
-- the command, never its output: kind "timeout" past the deadline,
-- "limit" for too much output, "usage" for a failure.
local function run_secret_command(option, cmd, what, timeout)
  timeout = timeout or M.DEFAULT_SECRET_TIMEOUT
  local out, how, code = core.run_command(cmd, timeout, MAX_SECRET_OUTPUT)
  if not out then
    local err = how
    local kind = err.kind
    if kind ~= "timeout" and kind ~= "limit" then kind = "usage" end
    errors.raise{ kind = kind, command = what, text = ("%s %s failed: %s%s")
      :format(option, q(cmd), err.text, kind == "timeout" and
        (" within %g s (killed)"):format(timeout) or "") }
  end
  if how ~= "exit" or code ~= 0 then
    usage(what, "%s %s failed (%s %s)", option, q(cmd),
      how == "signal" and "signal" or "exit status", tostring(code))
  end
  local first = out:match("^[^\n]*"):gsub("\r$", "")
  if first == "" then
    usage(what, "%s %s printed no %s", option, q(cmd),
      option == "token_command" and "token" or "password")
  end
  return first
end

-- A token from the user's function; its own errors pass through.
local function call_token_function(fn, what)
  local token = fn()
  if type(token) ~= "string" or token == "" then
    usage(what, "the token function returned %s, not a token",
      type(token) == "string" and "an empty string" or type(token))
  end
  return token
end

-- secret(opts, what) -> the password or token, obtained now.
local function secret(opts, what)
  local name = source_of(opts)
  local v = opts[name]
  if name == "password_command" or name == "token_command" then
    return run_secret_command(name, v, what, opts.secret_timeout)
  elseif type(v) == "function" then
    return call_token_function(v, what)
  end
  return v
end

---------------------------------------------------------------------------
-- The LOGIN command

-- Refuses to hand credentials to a connection anyone could read. SCRAM
-- and CRAM-MD5 would not reveal the password, but a plaintext session
-- is still open to tampering, so they need allow_plaintext too. A
-- command transport counts as plaintext unless declared secure.
local function refuse_plaintext(self, what, allow, text)
  if not self:secure() and not (allow or self.opts.allow_plaintext) then
    usage(what, "refusing to %s over a plaintext connection (use " ..
      "tls = \"implicit\" or \"starttls\", set secure = true for a " ..
      "command transport such as an ssh pipe, or set allow_plaintext)",
      text or "authenticate")
  end
end

-- The capabilities change with authentication: take them from the tagged
-- OK's code, or ask.
local function after_auth(self, tagged)
  if not (tagged.code and tagged.code.name == "CAPABILITY") then
    self:load_capabilities()
  end
end

-- The LOGIN command, once the plaintext rule has been applied.
local function login_command(self, user, password, what)
  if self.capabilities.LOGINDISABLED then
    usage(what, "server has disabled LOGIN (LOGINDISABLED)")
  end
  local tagged = self:run("LOGIN", { { str = user }, { secret = password } },
    what)
  after_auth(self, tagged)
  return tagged.text
end

-- The description of a login as user for errors, once both arguments
-- are checked to be strings.
local function login_what(user, password)
  local what = "LOGIN as " .. q(tostring(user))
  if type(user) ~= "string" or type(password) ~= "string" then
    usage(what, "user and password must be strings")
  end
  return what
end

-- login(user, password) -> the server's text (the LOGIN command).
function M.login(self, user, password)
  local what = login_what(user, password)
  refuse_plaintext(self, what, false, "send a password")
  return login_command(self, user, password, what)
end

---------------------------------------------------------------------------
-- The SASL driver

-- A challenge: base64, tolerating missing padding.
local function decode_challenge(text)
  text = text or ""
  if #text % 4 ~= 0 then text = text .. ("="):rep(4 - #text % 4) end
  return b64dec(text)
end

local function auth_write(self, line, secret_line, what)
  local ok, err = self.conn:write_line(line, secret_line)
  if not ok then error(errors.from_core(err, what), 0) end
end

-- Answers one continuation: the initial response still pending (no
-- SASL-IR), the mechanism's response, or "*" when the client gives up.
local function auth_answer(self, st, r, what)
  local resp, err
  if st.cancelled then
    resp = nil
  elseif st.pending then
    resp, st.pending = st.pending, nil
  else
    local challenge = decode_challenge(r.text)
    if challenge == nil then
      err = errors.new{ kind = "protocol",
        text = "server sent a challenge that is not base64" }
    else
      resp, err = st.mech:step(challenge)
    end
  end
  if resp == nil then
    st.cancelled, st.failure = true, st.failure or err
    auth_write(self, "*", false, what)
  else
    auth_write(self, b64enc(resp), true, what)
  end
end

local MAX_DETAIL = 1000 -- bytes of an error challenge kept in errors

local function raise_with(e, what)
  if errors.is(e) and e.command == nil then e.command = what end
  error(e, 0)
end

-- The tagged response: OK only counts when the mechanism agrees (SCRAM
-- must have checked the server's signature); a client-side failure
-- outranks the server's NO or BAD; an error challenge's text (OAuth
-- JSON, SCRAM e=) goes into the error.
local function auth_done(self, st, r, what)
  if r.status == "OK" then
    local ok, err
    if st.cancelled then
      ok, err = false, errors.new{ kind = "protocol",
        text = "server accepted an exchange the client cancelled" }
    else
      ok, err = st.mech:finish()
    end
    if not ok then self:shutdown(); raise_with(err, what) end
    local tagged = self:finish(r, what)
    after_auth(self, tagged)
    return tagged.text
  end
  if st.failure then raise_with(st.failure, what) end
  local e = errors.from_response(r, what)
  if st.mech.failure then
    e.detail = st.mech.failure:sub(1, MAX_DETAIL)
    e.text = (e.text or "") .. " (server said: " .. e.detail .. ")"
  end
  error(e, 0)
end

-- sasl_exchange(mech, what, use_ir) -> the server's text. Runs the
-- sasl.lua mechanism mech through AUTHENTICATE; with use_ir its initial
-- response goes in the command (RFC 4959, "=" when empty), else after
-- the server's first "+". Every response is sent as a secret.
local function sasl_exchange(self, mech, what, use_ir)
  local initial = mech:start()
  local args = { mech.name }
  if initial ~= nil and use_ir then
    args[2] = { secret = initial == "" and "=" or b64enc(initial) }
    initial = nil
  end
  local st = { mech = mech, pending = initial }
  local tag = self:send("AUTHENTICATE", args, what)
  while true do
    local r = self:read_response(what)
    if r.kind == "continue" then
      auth_answer(self, st, r, what)
    elseif r.kind == "tagged" and r.tag == tag then
      return auth_done(self, st, r, what)
    else
      if self:dispatch(r, what) then self:remember(r) end
    end
  end
end

---------------------------------------------------------------------------
-- Public methods

-- A mechanism driven by an imaplib-style callback: fn(challenge) returns
-- the response bytes, nil to cancel; an error it raises is kept and
-- raised once the server has answered the cancel.
local function callback_mechanism(name, fn)
  local m = { name = name }
  function m.start() return nil end
  function m.step(_, challenge)
    local ok, resp = pcall(fn, challenge)
    if not ok then return nil, resp end
    if resp ~= nil and type(resp) ~= "string" then
      return nil, errors.new{ kind = "usage", text = "the authenticate " ..
        "function must return a string or nil, not " .. type(resp) }
    end
    return resp
  end
  function m.finish() return true end
  return m
end

-- authenticate(mechanism, fn) -> the server's text (imaplib's
-- authenticate). fn(challenge) gets each decoded challenge and returns
-- the response bytes (nil cancels with "*"). The server speaks first
-- (no SASL-IR), as in imaplib.
function M.authenticate(self, mechanism, fn)
  local what = "AUTHENTICATE " .. tostring(mechanism)
  if type(mechanism) ~= "string" or not mechanism:match("^[%w_%-]+$") then
    usage(what, "mechanism must be a SASL mechanism name")
  end
  if type(fn) ~= "function" then usage(what, "needs a function") end
  refuse_plaintext(self, what)
  return sasl_exchange(self, callback_mechanism(mechanism:upper(), fn),
    what, false)
end

-- Runs sasl.new(name, creds) through the driver; errors name what and
-- carry the mechanism's name.
function M.sasl_login(self, name, creds, what)
  local ok, res = pcall(function()
    local mech = sasl.new(name, creds)
    return sasl_exchange(self, mech, what, self.capabilities["SASL-IR"])
  end)
  if ok then return res end
  if errors.is(res) then
    if res.command == "SASL" then res.command = what end
    res.mechanism = res.mechanism or name
  end
  error(res, 0)
end

-- login_cram_md5(user, password) -> the server's text (imaplib's).
function M.login_cram_md5(self, user, password)
  local what = login_what(user, password)
  refuse_plaintext(self, what)
  return M.sasl_login(self, "CRAM-MD5", { user = user, password = password },
    what)
end

-- The mechanism connect uses: opts.auth, else the strongest the server
-- offers for this kind of secret.
local function choose_auth(self, opts, kind, what)
  if opts.auth then return opts.auth:upper() end
  for _, name in ipairs(DEFAULT_ORDER[kind]) do
    if self.capabilities["AUTH=" .. name] then return name end
  end
  if kind == "password" then return "LOGIN-COMMAND" end
  usage(what, "server offers neither OAUTHBEARER nor XOAUTH2 for a token")
end

-- login_with(opts) -> the server's text. Logs in with connect's options
-- (user, password | password_command | token | token_command, auth,
-- authzid for PLAIN and SCRAM, allow_plaintext, secret_timeout); connect
-- calls it, and so does reconnect, so that a token function or command
-- runs again for every login.
function M.login_with(self, opts)
  opts = opts or self.opts
  local bad = M.check_options(opts)
  if bad then usage("LOGIN", "%s", bad) end
  if not opts.user then usage("LOGIN", "no user to log in as") end
  local what = "LOGIN as " .. q(opts.user)
  local _, kind = source_of(opts)
  refuse_plaintext(self, what, opts.allow_plaintext,
    kind == "token" and "send a token" or "send a password")
  if next(self.capabilities) == nil then self:load_capabilities() end
  local mech = choose_auth(self, opts, kind, what)
  local value = secret(opts, what)
  if mech == "LOGIN-COMMAND" then
    return login_command(self, opts.user, value, what)
  end
  local creds = { user = opts.user, [kind] = value,
    authzid = opts.authzid }
  if not self.opts.command then
    creds.host, creds.port = self.opts.host, self.opts.port
  end
  return M.sasl_login(self, mech, creds, what)
end

return M
