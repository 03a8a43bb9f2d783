-- imapsift.reconnect: reconnect() opens a new link with the session's
-- state restored (login, ENABLEd extensions, the selected mailbox, trace,
-- interceptor, alert handler), checks UIDVALIDITY, and retries with
-- capped exponential backoff and jitter. RFC 9051 2.3.1.1 (UIDVALIDITY),
-- RFC 5161 (ENABLE), RFC 7162 (CONDSTORE), RFC 5530 (UNAVAILABLE).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local connection = require "imapsift.connection"
require "imapsift.commands" -- select and enable, used to restore state
local Connection = connection.Connection

local M = {}

local usage = errors.usage

---------------------------------------------------------------------------
-- Backoff

-- backoff_delay(attempt, base, cap [, random]) -> seconds to wait before
-- retry number attempt (1, 2, ...): the step base * 2^(attempt - 1),
-- capped at cap, of which the upper half is random ("equal jitter"), so
-- the result lies in [step / 2, step]. Clients that lost the same server
-- at once thus spread out, yet none retries at once. random() returns a
-- number in [0, 1) (default math.random).
function M.backoff_delay(attempt, base, cap, random)
  local what = "backoff_delay"
  if math.type(attempt) ~= "integer" or attempt < 1 then
    usage(what, "attempt must be an integer >= 1, not %s", tostring(attempt))
  end
  -- x ~= x: NaN passes no comparison, so it is refused first.
  if type(base) ~= "number" or base ~= base or base <= 0 or
      base == math.huge then
    usage(what, "base must be a number of seconds > 0, not %s",
      tostring(base))
  end
  if type(cap) ~= "number" or cap ~= cap or cap < base or
      cap == math.huge then
    usage(what, "cap must be a number of seconds >= base, not %s",
      tostring(cap))
  end
  local step = math.min(cap, base * 2.0 ^ (attempt - 1))
  local r = (random or math.random)()
  if type(r) ~= "number" or not (r >= 0 and r <= 1) then
    usage(what, "random() must return a number in [0, 1], not %s",
      tostring(r))
  end
  return step / 2 + r * step / 2
end

---------------------------------------------------------------------------
-- Reconnecting

-- Failures another attempt may cure: the link, the server going away or
-- saying it is briefly unavailable. A refused login or a bad option is
-- final.
local function retryable(e)
  if not errors.is(e) then return false end
  local k = e.kind
  return k == "connect" or k == "closed" or k == "io" or k == "timeout" or
    k == "bye" or (k == "no" and e.code == "UNAVAILABLE")
end

local ON_UIDVALIDITY = { raise = true, report = true }

local function check_options(o)
  if o == nil then o = {} end
  if type(o) ~= "table" then usage("reconnect", "options must be a table") end
  local r = o.retries or 0
  if math.type(r) ~= "integer" or r < 0 then
    usage("reconnect", "retries must be an integer >= 0, not %s", tostring(r))
  end
  local mode = o.on_uidvalidity or "raise"
  if not ON_UIDVALIDITY[mode] then
    usage("reconnect", "on_uidvalidity must be \"raise\" or \"report\"")
  end
  for _, k in ipairs{ "sleep", "random" } do
    if o[k] ~= nil and type(o[k]) ~= "function" then
      usage("reconnect", "%s must be a function", k)
    end
  end
  local base, cap = o.base or 1, o.cap or 300
  M.backoff_delay(1, base, cap, function() return 0 end) -- checks both
  return { retries = r, mode = mode, base = base, cap = cap,
    sleep = o.sleep or core.sleep, random = o.random }
end

-- What SELECT must restore, as a plain record that outlives the link.
local function box_record(box)
  if not box then return nil end
  return { name = box.name, readonly = box.readonly,
    condstore = box.condstore, uidvalidity = box.uidvalidity }
end

-- Fields that belong to the user of the object, not to one link.
local KEEP = { "intercept", "on_alert", "trace_setting", "enabled_caps" }

-- adopt(self, fresh): self becomes the new connection fresh, keeping KEEP.
local function adopt(self, fresh)
  local kept = {}
  for _, k in ipairs(KEEP) do kept[k] = self[k] end
  for k in pairs(self) do self[k] = nil end
  for k, v in pairs(fresh) do self[k] = v end
  setmetatable(fresh, nil) -- its link now belongs to self
  for k, v in pairs(kept) do self[k] = v end
end

-- The connect options for the next link: the first ones, with what the
-- caller changed since (trace, alert handler).
local function link_options(self)
  local o = {}
  for k, v in pairs(self.opts) do o[k] = v end
  if self.trace_setting ~= nil then o.trace = self.trace_setting end
  o.on_alert = self.on_alert
  return o
end

-- ENABLE again what the last session enabled (RFC 5161: it lasts one
-- session), before SELECT, since QRESYNC and UTF8=ACCEPT change it.
local function restore_enabled(self)
  local caps = {}
  for c in pairs(self.enabled_caps or {}) do caps[#caps + 1] = c end
  if #caps == 0 then return end
  table.sort(caps)
  self:enable(caps)
end

-- One attempt: a new link, logged in, with the state restored. Returns
-- the new UIDVALIDITY of the re-selected mailbox. On failure the object
-- is left closed, as before the attempt.
local function attempt(self, record)
  self:shutdown()
  adopt(self, connection.connect(link_options(self)))
  local ok, e = pcall(function()
    restore_enabled(self)
    if record then
      return self:select(record.name, { readonly = record.readonly,
        condstore = record.condstore }).uidvalidity
    end
  end)
  if not ok then self:shutdown(); error(e, 0) end
  return e
end

-- reconnect([opts]) -> self: see README, "Reconnecting". opts: retries,
-- base, cap, sleep(seconds), random(), on_uidvalidity ("raise" or
-- "report"). A failed reconnect leaves the object closed; another
-- reconnect() still restores the mailbox selected before the first.
function Connection:reconnect(opts)
  local o = check_options(opts)
  local record = self.reselect or box_record(self.mailbox or
    self.lost_mailbox)
  local tries = 0
  while true do
    local ok, now = pcall(attempt, self, record)
    if ok then return self:check_uidvalidity(record, now, o.mode) end
    tries = tries + 1
    if tries > o.retries or not retryable(now) then
      self.reselect = record
      error(now, 0)
    end
    o.sleep(M.backoff_delay(tries, o.base, o.cap, o.random))
  end
end

-- Compares the re-selected mailbox's UIDVALIDITY with the one before:
-- when it changed, UIDs held from before name other messages or none.
function Connection:check_uidvalidity(record, now, mode)
  local old = record and record.uidvalidity
  if old == nil or now == nil or old == now then
    self.uidvalidity_changed = false
    return self
  end
  self.uidvalidity_changed = { old = old, new = now }
  if mode == "report" then return self end
  errors.raise{ kind = "uidvalidity", command = "reconnect",
    mailbox = record.name, old = old, new = now,
    text = ("UIDVALIDITY of %s changed from %d to %d: UIDs held from " ..
      "before are not valid"):format(record.name, old, now) }
end

-- reconnect(conn [, opts]): the same as conn:reconnect(opts), for the
-- connection module's automatic reconnection (opts.reconnect).
M.reconnect = Connection.reconnect

return M