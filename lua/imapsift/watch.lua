-- imapsift.watch: waiting for new mail in several mailboxes at once (the
-- command's --watch). Mailbox:watch() declares a mailbox; Watchers keep a
-- connection of their own per (account, mailbox), EXAMINEd and in IDLE
-- (RFC 2177) or polled with NOOP, all waited on together with core.poll,
-- and reconnected with backoff after any trouble. RFC 9051 7.4.1 (EXISTS).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local reconnect = require "imapsift.reconnect"
local Mailbox = require("imapsift.mailbox").Mailbox

local M = {}

local now = core.monotonic
local usage = errors.usage

---------------------------------------------------------------------------
-- Requests: the mailboxes a run's script asked to watch

-- In the order first asked; keyed to drop repeats. The account object is
-- kept, not its options, so that what it learns until the run ends (a
-- password asked for once) is in the copy requests() makes.
local asked, asked_keys = {}, {}

local function key_of(account_name, mailbox)
  return account_name .. "\0" .. mailbox
end

-- The account's connect options, with account.defaults (the command's
-- --trace...) where the script left them nil. A copy: connect() fills in
-- host and port, and the watcher reconnects on its own (no reconnect).
local function connect_options(acct)
  local o = {}
  for k, v in pairs(rawget(acct, "opts") or {}) do o[k] = v end
  local defaults = require("imapsift.account").defaults
  for k, v in pairs(type(defaults) == "table" and defaults or {}) do
    if o[k] == nil then o[k] = v end
  end
  o.reconnect = nil
  -- An account only watched never connected during the run: the
  -- password is asked for (or taken from what was asked) here.
  local ask = require("imapsift.account").ask_password
  if ask then ask(o) end
  return o
end

-- mailbox:watch() -> mailbox: --watch waits for new mail here (nothing
-- happens otherwise).
function Mailbox:watch()
  local acct = self.account
  local name = rawget(acct, "name")
  local key = key_of(name, self.name)
  if not asked_keys[key] then
    asked_keys[key] = true
    asked[#asked + 1] = { account = name, acct = acct, mailbox = self.name }
  end
  return self
end

-- requests() -> array of { account, opts, mailbox }, one per watched
-- mailbox, opts a fresh copy each time.
function M.requests()
  local out = {}
  for i, r in ipairs(asked) do
    out[i] = { account = r.account, opts = connect_options(r.acct),
      mailbox = r.mailbox }
  end
  return out
end

function M.reset()
  asked, asked_keys = {}, {}
end

---------------------------------------------------------------------------
-- One watcher: a connection in state "down" (due = the next attempt),
-- "idle" (due = the IDLE's renewal) or "poll" (due = the next NOOP).

local Watchers = {}
Watchers.__index = Watchers
M.Watchers = Watchers

-- note(w, r): r is an untagged response already absorbed into the
-- session (box.exists follows EXISTS and EXPUNGE). New mail is an EXISTS
-- above the count known before it.
local function note(w, r)
  local box = w.imap.mailbox
  if r.type == "EXISTS" and r.n > w.exists then w.news = true end
  if box and box.exists then w.exists = box.exists end
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

local function link_fail(w, err, what)
  error(w.imap:link_error(err, what), 0)
end

-- A server that announces IDLE and refuses it is polled instead, for
-- as long as the watcher lives.
local function refused(self, w, r)
  w.no_idle, w.tag = true, nil
  w.state, w.due = "poll", now() + self.poll
  self.log("warn", ("%s: %s: IDLE refused (%s); polling with NOOP every " ..
    "%g s"):format(w.account, w.mailbox,
    tostring(errors.from_response(r, "IDLE")), self.poll))
end

-- Sends IDLE and reads until the server accepts it with "+".
local function start_idle(self, w)
  local imap = w.imap
  w.tag = imap:send("IDLE", nil, "IDLE")
  local deadline = imap:deadline()
  while true do
    local r = imap:read_response("IDLE", deadline)
    if r.kind == "continue" then break end
    if r.kind == "untagged" then
      imap:dispatch(r, "IDLE")
      note(w, r)
    elseif r.kind == "tagged" and r.tag == w.tag then
      if r.status ~= "OK" then return refused(self, w, r) end
      errors.raise{ kind = "protocol", command = "IDLE",
        text = "server completed IDLE without accepting it" }
    end
  end
  w.state, w.due = "idle", now() + self.refresh
end

-- Ends the IDLE with DONE and waits for its completion.
local function end_idle(w)
  local imap = w.imap
  w.state = "poll"
  local ok, err = imap.conn:write_line("DONE")
  if not ok then link_fail(w, err, "IDLE") end
  imap:wait(w.tag, "IDLE", function(r) note(w, r); return true end)
end

-- One NOOP; what it brings is looked at, not kept.
local function noop(self, w)
  w.imap:run("NOOP", nil, "NOOP (polling instead of IDLE)",
    function(r) note(w, r); return true end)
  w.due = now() + self.poll
end

-- Whether mail came while the watcher was down: the count grew, UIDNEXT
-- moved on (mail came and some went), or the mailbox is another one
-- (UIDVALIDITY). Nothing to compare with the first time.
local function grew(w, box)
  local old = w.known
  w.known = { uidnext = box.uidnext, uidvalidity = box.uidvalidity }
  if w.exists == nil then return false end
  return box.exists > w.exists or
    (old.uidnext ~= nil and box.uidnext ~= nil and
      box.uidnext > old.uidnext) or
    (old.uidvalidity ~= nil and box.uidvalidity ~= nil and
      box.uidvalidity ~= old.uidvalidity)
end

-- Connects, EXAMINEs (read-only: watching changes nothing, not even
-- \Recent) and starts waiting. The UIDNEXT kept is the one EXAMINE saw:
-- after news in IDLE it is behind, and the next reconnect reports news
-- once more, a spare run rather than a missed one.
local function open(self, w)
  w.imap = require("imapsift").connect(copy(w.opts))
  local imap = w.imap
  local box = imap:examine(w.mailbox)
  w.attempt = 0
  if grew(w, box) then w.news = true end
  w.exists = box.exists
  if next(imap.capabilities) == nil then imap:load_capabilities() end
  local idle = imap.capabilities.IDLE and not w.no_idle
  self.log("verbose", ("%s: %s: watching (%s)"):format(w.account,
    w.mailbox, idle and "IDLE" or "NOOP polling"))
  if idle then
    start_idle(self, w)
  else
    w.state, w.due = "poll", now() + self.poll
  end
end

-- Drops the link and schedules the next attempt: exponential backoff
-- with jitter, capped. A usage error (bad options) is the caller's to
-- see; a plain Lua error is a bug, not connection trouble: both raise.
local function fail(self, w, err)
  if w.imap then w.imap:shutdown() end
  w.imap, w.state, w.tag = nil, "down", nil
  if not errors.is(err) or err.kind == "usage" then error(err, 0) end
  w.attempt = w.attempt + 1
  local delay = reconnect.backoff_delay(w.attempt, self.base, self.cap,
    self.random)
  w.due = now() + delay
  self.log("warn", ("%s: %s: watching failed: %s; retrying in %g s")
    :format(w.account, w.mailbox, tostring(err),
      math.max(math.floor(delay * 10 + 0.5) / 10, 0.1)))
end

-- guarded(self, w, fn): runs fn(self, w); trouble becomes fail().
local function guarded(self, w, fn)
  local ok, err = pcall(fn, self, w)
  if not ok then fail(self, w, err) end
end

-- Reads what has arrived, without waiting. A server may end the IDLE
-- itself (tagged OK): it is started again.
local function readable(self, w)
  local imap = w.imap
  while imap and imap.conn do
    local r, err = imap.conn:read(0)
    if not r then
      if err.kind == "timeout" then return end
      link_fail(w, err, "IDLE")
    end
    if r.kind == "untagged" then
      imap:dispatch(r, "IDLE")
      note(w, r)
    elseif r.kind == "tagged" and r.tag == w.tag and w.state == "idle" then
      imap:finish(r, "IDLE")
      start_idle(self, w)
    end
  end
end

-- What is due now for w: a reconnect, an IDLE renewed before the
-- server's limit, a NOOP.
local function due(self, w)
  if w.state == "down" then
    open(self, w)
  elseif w.state == "idle" then
    end_idle(w)
    start_idle(self, w)
  else
    noop(self, w)
  end
end

---------------------------------------------------------------------------
-- Watchers

local function check_seconds(o, k, default, min)
  local v = o[k]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < min or v == math.huge then
    usage("watch", "option %s must be a number of seconds >= %g, not %s",
      k, min, tostring(v))
  end
  return v
end

-- new{ log = fn(level, text), refresh = 28*60, poll = 60,
--   backoff_cap = 300, backoff_base = 1, random = math.random } ->
-- Watchers. refresh: IDLE renewed before the servers' 29-minute limit
-- (RFC 2177); poll: NOOP interval where IDLE is missing.
function M.new(o)
  o = o or {}
  if type(o) ~= "table" then usage("watch", "options must be a table") end
  for _, k in ipairs{ "log", "random" } do
    if o[k] ~= nil and type(o[k]) ~= "function" then
      usage("watch", "option %s must be a function", k)
    end
  end
  local base = check_seconds(o, "backoff_base", 1, 0.001)
  local self = setmetatable({
    log = o.log or function() end, random = o.random,
    refresh = check_seconds(o, "refresh", 28 * 60, 0.001),
    poll = check_seconds(o, "poll", 60, 0.001),
    base = base, cap = check_seconds(o, "backoff_cap", 300, base),
    list = {}, by_key = {},
  }, Watchers)
  return self
end

-- Stops watching: DONE and LOGOUT when the link is up, quietly.
local function close_one(w)
  local imap, idle = w.imap, w.state == "idle"
  if imap then
    pcall(function()
      if idle and imap.conn then end_idle(w) end
      imap:logout()
    end)
    imap:shutdown()
  end
  w.imap, w.state, w.tag = nil, "down", nil
end

local function check_requests(requests)
  if type(requests) ~= "table" then
    usage("watch", "requests must be an array, not %s", type(requests))
  end
  for i, r in ipairs(requests) do
    if type(r) ~= "table" or type(r.account) ~= "string" or
        type(r.mailbox) ~= "string" or type(r.opts) ~= "table" then
      usage("watch", "request %d needs account, mailbox and opts", i)
    end
  end
end

-- update(requests): watches what requests (watch.requests()) names,
-- opening new watchers now and closing those no longer asked for.
-- Connection trouble is logged and retried later, never raised.
function Watchers:update(requests)
  check_requests(requests)
  local want, list = {}, {}
  for _, r in ipairs(requests) do
    local key = key_of(r.account, r.mailbox)
    if not want[key] then
      want[key] = true
      local w = self.by_key[key]
      if not w then
        w = { key = key, account = r.account, mailbox = r.mailbox,
          opts = copy(r.opts), state = "down", attempt = 0, due = 0 }
        self.by_key[key] = w
        guarded(self, w, open)
      else
        w.opts = copy(r.opts) -- a reloaded script's, for the next link
      end
      list[#list + 1] = w
    end
  end
  for _, w in ipairs(self.list) do
    if not want[w.key] then
      close_one(w)
      self.by_key[w.key] = nil
    end
  end
  self.list = list
end

-- Moves the watchers that have news into news (once each).
local function collect(self, news)
  for _, w in ipairs(self.list) do
    if w.news then
      w.news = false
      news[#news + 1] = { account = w.account, mailbox = w.mailbox }
    end
  end
end

-- Runs what is due; returns the seconds until the next thing is.
local function run_due(self)
  local t, next_due = now(), math.huge
  for _, w in ipairs(self.list) do
    if w.due <= t then
      guarded(self, w, due)
      t = now()
    end
    next_due = math.min(next_due, w.due)
  end
  return next_due - t
end

-- Waits up to seconds (nil: forever) for any watcher's link to have
-- something to read, or a signal. Returns the watchers ready, signaled.
local function poll_links(self, seconds)
  local conns, owners = {}, {}
  for _, w in ipairs(self.list) do
    if w.imap and w.imap.conn then
      conns[#conns + 1], owners[#conns + 1] = w.imap.conn, w
    end
  end
  if #conns == 0 then
    return {}, core.wait(seconds) == "signal"
  end
  local ready, signaled = core.poll(conns, seconds)
  local out = {}
  for i, idx in ipairs(ready) do out[i] = owners[idx] end
  return out, signaled
end

-- wait([timeout]) -> news, signaled. news: array of { account, mailbox }
-- that got new mail, returned as soon as there is any; empty after
-- timeout seconds (nil: no limit) or when a signal arrived (signaled).
function Watchers:wait(timeout)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout
      or timeout < 0) then
    usage("watch", "timeout must be nil or a number of seconds >= 0")
  end
  local deadline = timeout and now() + timeout
  local news = {}
  while true do
    local left = math.max(run_due(self), 0)
    collect(self, news)
    if #news > 0 then return news, false end
    if deadline then left = math.min(left, math.max(deadline - now(), 0)) end
    local ready, signaled = poll_links(self, left < math.huge and left or nil)
    for _, w in ipairs(ready) do guarded(self, w, readable) end
    collect(self, news)
    if #news > 0 or signaled then return news, signaled and true or false end
    if deadline and now() >= deadline then return news, false end
  end
end

function Watchers:count()
  return #self.list
end

-- close(): logs every watcher out; the object may be updated again.
function Watchers:close()
  for _, w in ipairs(self.list) do close_one(w) end
  self.list, self.by_key = {}, {}
end

return M
