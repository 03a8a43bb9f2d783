-- imapsift.idle: waiting for news with IDLE (RFC 2177), falling back to
-- NOOP polling.

local core = require "imapsift.core"
local errors = require "imapsift.error"
local Connection = require("imapsift.connection").Connection

local now = core.monotonic

-- RFC 2177: servers may drop an IDLE after 30 minutes (29 in practice),
-- so it is renewed before that.
local DEFAULT_REFRESH = 28 * 60
local DEFAULT_POLL = 60

local usage = errors.usage

---------------------------------------------------------------------------
-- The state of one idle() call: the callback and whether it asked to
-- stop (or raised, in which case the error is kept for after DONE).

local function new_watch(callback)
  return { callback = callback, stop = false, err = nil }
end

-- Hands r to the callback unless it already asked to stop. Returns true
-- when r was handed over.
local function notify(w, r)
  if w.stop then return false end
  local ok, res = pcall(w.callback, r)
  if not ok then
    w.err, w.stop = res, true
  elseif res then
    w.stop = true
  end
  return true
end

-- Reads one response within seconds; nil when none came in time (the
-- connection stays usable). Other failures raise as read_response does.
local function read_within(self, what, seconds)
  local r, err = self.conn:read(seconds)
  if r then return r end
  if err.kind == "timeout" then return nil end
  if self.bye and err.kind == "closed" then
    local e = errors.from_bye(self.bye, what)
    self:shutdown()
    error(e, 0)
  end
  error(errors.from_core(err, what), 0)
end

-- Handles a response that arrived while waiting: untagged data is
-- absorbed, then given to the callback (BYE raises kind "bye"). Returns
-- true when r is the completion of tag (checked: NO/BAD raise).
local function deliver(self, w, r, tag, what)
  if r.kind == "tagged" and tag and r.tag == tag then
    self:finish(r, what)
    return true
  end
  if r.kind ~= "untagged" then return false end
  self:dispatch(r, what)
  if not notify(w, r) then self:remember(r) end
  return false
end

-- Delivers what arrives until the callback stops or until time end.
-- Returns true when the server completed tag meanwhile.
local function listen(self, w, tag, what, until_time)
  while not w.stop do
    local left = until_time - now()
    if left <= 0 then return false end
    local r = read_within(self, what, left)
    if r and deliver(self, w, r, tag, what) then return true end
  end
  return false
end

-- One IDLE command: sent, accepted with "+", listened to until
-- period_end or a stop, then ended with DONE and its tagged OK.
local function idle_once(self, w, period_end, what)
  local tag = self:send("IDLE", nil, what)
  while true do
    local r = self:read_response(what)
    if r.kind == "continue" then break end
    if deliver(self, w, r, tag, what) then
      errors.raise{ kind = "protocol", command = what,
        text = "server completed IDLE without accepting it" }
    end
  end
  -- A server may end the IDLE itself (tagged OK): then no DONE is due.
  if listen(self, w, tag, what, period_end) then return end
  local ok, err = self.conn:write_line("DONE")
  if not ok then
    if err.kind == "closed" or err.kind == "io" then self:bye_error(what) end
    error(errors.from_core(err, what), 0)
  end
  self:wait(tag, what, function(r) return notify(w, r) end)
end

-- Without IDLE: a NOOP every interval seconds, listening in between for
-- anything the server sends on its own.
-- One NOOP, every response it brings handed to the callback (mailbox
-- updates included, which run() would only fold into imap.mailbox).
local function noop_once(self, w, what)
  local tag = self:send("NOOP", nil, what)
  repeat
    local r = self:read_response(what)
  until deliver(self, w, r, tag, what)
end

local function poll(self, w, deadline, interval, what)
  while true do
    noop_once(self, w, what)
    if w.stop then return "stopped" end
    local t = now()
    if deadline and t >= deadline then return "timeout" end
    local next_poll = t + interval
    if deadline and deadline < next_poll then next_poll = deadline end
    listen(self, w, nil, what, next_poll)
    if w.stop then return "stopped" end
  end
end

local function check_idle_args(timeout, callback, opts)
  local what = "IDLE"
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    usage(what, "timeout must be nil or a number of seconds >= 0")
  end
  if type(callback) ~= "function" then
    usage(what, "callback must be a function")
  end
  if opts ~= nil and type(opts) ~= "table" then
    usage(what, "options must be a table")
  end
  opts = opts or {}
  for _, k in ipairs{ "refresh", "poll" } do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v <= 0) then
      usage(what, "option %s must be a number of seconds > 0", k)
    end
  end
  return opts
end

-- idle(timeout, callback [, opts]) -> "stopped" | "timeout"
-- Waits for news with IDLE, calling callback(r) with every untagged
-- response (after it updated imap.mailbox, e.g. exists) until callback
-- returns true ("stopped") or timeout seconds pass ("timeout"; nil waits
-- forever). The IDLE is renewed every opts.refresh seconds (default 28
-- minutes, under the servers' 29-minute limit). Servers without IDLE are
-- polled with NOOP every opts.poll seconds (default 60). A BYE raises an
-- error of kind "bye"; an error raised by callback is raised again once
-- the IDLE has ended cleanly. The callback must not send commands on this
-- connection: it returns true, and the caller acts after idle() returns.
--   local reason = imap:idle(300, function(r)
--     return r.type == "EXISTS"
--   end)
function Connection:idle(timeout, callback, opts)
  opts = check_idle_args(timeout, callback, opts)
  if self.conn == nil then usage("IDLE", "connection is closed") end
  local w = new_watch(callback)
  local deadline = timeout and now() + timeout
  if next(self.capabilities) == nil then self:load_capabilities() end
  local reason
  if not self.capabilities.IDLE then
    reason = poll(self, w, deadline, opts.poll or DEFAULT_POLL,
      "NOOP (polling instead of IDLE)")
  else
    local refresh = opts.refresh or DEFAULT_REFRESH
    repeat
      local period_end = now() + refresh
      if deadline and deadline < period_end then period_end = deadline end
      idle_once(self, w, period_end, "IDLE")
      if w.stop then reason = "stopped"
      elseif deadline and now() >= deadline then reason = "timeout" end
    until reason
  end
  if w.err ~= nil then error(w.err, 0) end
  return reason
end

return {}
