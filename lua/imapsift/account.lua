-- imapsift.account: one mail account of a rules script: its connection
-- (opened on first use, reconnected after a lost link), its mailboxes
-- (account:mailbox("INBOX"), account.INBOX, account["Lists/lua-l"]) and
-- the registry that logs every account out at the end of the script.

local errors = require "imapsift.error"

local M = {}

local Account = {}
M.Account = Account

-- Accounts still open, so finish() can log them out; weak, so a script
-- that drops an account lets it be collected (and shut down).
local registry = setmetatable({}, { __mode = "k" })

-- account.NAME and account["a/b"] are mailboxes; methods come first.
function Account.__index(self, k)
  local m = Account[k]
  if m ~= nil then return m end
  if type(k) == "string" then return self:mailbox(k) end
  return nil
end

local OWN = { name = true, create = true }

-- defaults: connect options every new account gets where its own leave
-- them nil (the command sets trace for --trace). parallel: at most this
-- many connections for one big read; parallel_threshold: a read of more
-- messages than this is split over them (parallel.lua).
M.defaults = { parallel = 4, parallel_threshold = 20000 }

-- The accounts of this run and the ones that could not connect or log
-- in (reset_run() starts a new run).
local run = { all = {}, failures = {} }

-- on_event(name, what): told "connected", "reconnected" and "logged
-- out" for every account (the command logs them at -v); nil: nobody.
M.on_event = nil

local function event(self, what)
  if M.on_event then M.on_event(rawget(self, "name"), what) end
end

-- Passwords asked for on the terminal, by user@host:port, so that a
-- reconnect or the next run of a loop does not ask again.
local asked = {}

-- new(opts) -> Account. opts: imapsift.connect's options plus name (for
-- logs, default user@host) and create (create missing destinations).
function M.new(opts)
  if type(opts) ~= "table" then
    errors.usage("account", "needs a table of options, got %s", type(opts))
  end
  local copts = {}
  for k, v in pairs(opts) do if not OWN[k] then copts[k] = v end end
  for k, v in pairs(M.defaults) do
    if copts[k] == nil then copts[k] = v end
  end
  local self = setmetatable({
    name = opts.name or ((opts.user or "?") .. "@" .. (opts.host or
      "localhost")),
    create = opts.create and true or false,
    opts = copts,
    link = false,    -- the Connection, once connected
    boxes = {},      -- [name] = Mailbox
  }, Account)
  registry[self] = true
  run.all[#run.all + 1] = self
  return self
end

-- all() -> array of the accounts created since reset_run().
function M.all() return table.move(run.all, 1, #run.all, 1, {}) end

-- failures() -> array of { account = name, error = err } of the
-- accounts that could not connect or log in since reset_run().
function M.failures()
  return table.move(run.failures, 1, #run.failures, 1, {})
end

-- reset_run(): a new run: forget the accounts created and their failures.
function M.reset_run() run = { all = {}, failures = {} } end

local SECRETS = { "password", "password_command", "token", "token_command",
  "auth" }

-- A user without any secret: ask for the password on the terminal when
-- there is one (once per user@host:port), else leave the options as
-- they are (connect then refuses them as a usage error).
local function ask_password(copts)
  if copts.user == nil or copts.command ~= nil then return end
  for _, k in ipairs(SECRETS) do if copts[k] ~= nil then return end end
  local core = require "imapsift.core"
  if not (core.getpass and core.isatty and core.isatty(0)) then return end
  local key = ("%s@%s:%s"):format(copts.user, copts.host or "localhost",
    tostring(copts.port or ""))
  if not asked[key] then
    local pw, err = core.getpass(("Password for %s@%s: "):format(copts.user,
      copts.host or "localhost"))
    if not pw then
      errors.raise{ kind = "usage", command = "password",
        text = "cannot read the password: " .. tostring(err) }
    end
    asked[key] = pw
  end
  copts.password = asked[key]
end
M.ask_password = ask_password

-- Connecting failed: the account is marked, so the rest of the run
-- fails at once with the same error instead of trying again.
local function mark_failed(self, err)
  if errors.is(err) then err.account = err.account or rawget(self, "name") end
  rawset(self, "failed", err)
  run.failures[#run.failures + 1] = { account = rawget(self, "name"),
    error = err }
  error(err, 0)
end

-- The plan module (dry runs) is optional: without it nothing is dry.
local function plan()
  local ok, p = pcall(require, "imapsift.plan")
  return ok and p or nil
end
M.plan = plan

-- conn() -> the connected Connection: connects on first use, and after
-- a lost link reconnects (logging in and re-selecting) before returning.
function Account:conn()
  local failed = rawget(self, "failed")
  if failed then error(failed, 0) end
  local c = rawget(self, "link")
  if not c then
    local opts = rawget(self, "opts")
    local ok, res = pcall(function()
      ask_password(opts)
      return require("imapsift").connect(opts)
    end)
    if not ok then mark_failed(self, res) end
    c = res
    rawset(self, "link", c)
    event(self, "connected")
  elseif c:state() == "LOGOUT" then
    local ok, err = pcall(c.reconnect, c)
    if not ok then mark_failed(self, err) end
    event(self, "reconnected")
  end
  local p = plan()
  if p and p.guard then p.guard(c) end
  return c
end

-- Whether err is a lost link that reading again on a new one can cure.
local function lost(err)
  return errors.is(err, "closed") or errors.is(err, "bye") or
    errors.is(err, "timeout")
end

-- read(fn) -> fn(conn)'s results. fn must only read (search, fetch,
-- select): when the link is lost while it runs, the account reconnects
-- and runs fn once more.
function Account:read(fn)
  local res = table.pack(pcall(fn, self:conn()))
  if res[1] then return table.unpack(res, 2, res.n) end
  if not lost(res[2]) then error(res[2], 0) end
  local c = rawget(self, "link")
  if c and c:state() ~= "LOGOUT" then c:shutdown() end
  return fn(self:conn())
end

-- write(fn) -> fn(conn)'s results. A step that changes mail is never
-- repeated blindly: a lost link raises, and the next call reconnects.
function Account:write(fn)
  return fn(self:conn())
end

-- read_lanes() -> array of the extra read connections for big reads
-- (parallel.lua's lanes), opened on first call: up to parallel - 1 with
-- the account's options; the first that cannot connect or log in (a
-- server limit) stops the opening. Closed by logout().
function Account:read_lanes()
  local lanes = rawget(self, "lanes")
  if lanes then return lanes end
  lanes = {}
  rawset(self, "lanes", lanes)
  local opts = rawget(self, "opts")
  local n = math.tointeger(opts.parallel) or 1
  for _ = 2, n do
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.reconnect = nil
    local ok, c = pcall(require("imapsift").connect, o)
    if not ok then break end
    lanes[#lanes + 1] = { conn = c, queue = {} }
    event(self, "opened a read connection")
  end
  return lanes
end

local function close_lanes(self)
  for _, l in ipairs(rawget(self, "lanes") or {}) do
    if not l.dead and l.conn:state() ~= "LOGOUT" then
      if not pcall(l.conn.logout, l.conn) then l.conn:shutdown() end
      event(self, "closed a read connection")
    end
  end
  rawset(self, "lanes", nil)
end

-- mailbox(name) -> the Mailbox of that name (one object per name).
function Account:mailbox(name)
  if type(name) ~= "string" or name == "" then
    errors.usage("mailbox", "needs a mailbox name, got %s", tostring(name))
  end
  local boxes = rawget(self, "boxes")
  local mb = boxes[name]
  if mb == nil then
    mb = require("imapsift.mailbox").new(self, name)
    boxes[name] = mb
  end
  return mb
end

-- list([pattern]) -> array of mailbox names (all by default).
function Account:list(pattern)
  return self:read(function(c)
    local names = {}
    for i, mb in ipairs(c:list("", pattern or "*")) do names[i] = mb.name end
    return names
  end)
end

-- logout(): log out (or drop a broken link) and forget the connection;
-- the next use connects again.
function Account:logout()
  close_lanes(self)
  local c = rawget(self, "link")
  rawset(self, "link", false)
  if c and c:state() ~= "LOGOUT" then
    if not pcall(c.logout, c) then c:shutdown() end
    event(self, "logged out")
  elseif c then
    c:shutdown()
  end
  registry[self] = nil
  return true
end

function Account:__close() self:logout() end

function Account:__gc()
  local c = rawget(self, "link")
  if c then c:shutdown() end
end

function Account:__tostring()
  return "imapsift account " .. rawget(self, "name")
end

-- finish(): log out every account still open (the end of a script).
function M.finish()
  local open = {}
  for a in pairs(registry) do open[#open + 1] = a end
  for _, a in ipairs(open) do a:logout() end
end

return M
