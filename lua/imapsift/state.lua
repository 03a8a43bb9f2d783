-- imapsift.state: what a scheduled run remembers between runs, per
-- account and mailbox: the UIDVALIDITY and the last UID it has seen, so
-- that Mailbox:new() gives only the mail that arrived since (RFC 9051
-- 2.3.1.1: UIDs only grow while UIDVALIDITY stays). A run records its
-- updates as pending; the caller commits them once the run went well.
-- One file per account and mailbox:
--   <dir>/<escaped account name>/<escaped mailbox name>.state

local errors = require "imapsift.error"
local core = require "imapsift.core"
local plan = require "imapsift.plan"
local msgset = require "imapsift.msgset"
local mailbox = require "imapsift.mailbox"

local M = {}

---------------------------------------------------------------------------
-- Where the files live

local dir_override

-- dir() -> the state directory: $XDG_STATE_HOME/imapsift when that is
-- absolute (the XDG spec says to ignore a relative one), else
-- $HOME/.local/state/imapsift. No HOME either: kind "usage".
function M.dir()
  if dir_override then return dir_override end
  local xdg = os.getenv("XDG_STATE_HOME")
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/imapsift" end
  local home = os.getenv("HOME")
  if not home or home == "" then
    errors.usage("state", "neither XDG_STATE_HOME nor HOME is set: " ..
      "nowhere to keep what was seen")
  end
  return home .. "/.local/state/imapsift"
end

-- set_dir(path): use path instead of dir() (nil: back to dir()).
function M.set_dir(path)
  if path ~= nil and (type(path) ~= "string" or path == "") then
    errors.usage("state.set_dir", "bad argument #1 (a path expected)")
  end
  dir_override = path
end

-- escape(name) -> name as one file name: every byte but letters, digits
-- and ._@+- as %XX, so "/" cannot make a directory and two names never
-- give one file. "." and ".." would name directories: their dots are
-- escaped too; the empty name becomes "%" (a lone "%" escapes nothing).
function M.escape(name)
  if name == "" then return "%" end
  if name == "." or name == ".." then
    return (name:gsub("%.", "%%2E"))
  end
  return (name:gsub("[^%w._@+%-]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

-- path(account, mailbox) -> the directory of the account, the file.
function M.path(account_name, mailbox_name)
  local d = M.dir() .. "/" .. M.escape(account_name)
  return d, d .. "/" .. M.escape(mailbox_name) .. ".state"
end

---------------------------------------------------------------------------
-- Reading and writing one file

local FIELDS = { uidvalidity = true, last_uid = true, uidnext = true,
  highestmodseq = true }

-- parse(text) -> record, or nil and why. Unknown lines are skipped (a
-- later version may add some); a known one must hold an integer.
function M.parse(text)
  local rec = {}
  for line in text:gmatch("[^\n]+") do
    local key, value = line:match("^(%S+)%s+(.-)%s*$")
    if key and FIELDS[key] then
      local n = value:match("^%d+$") and math.tointeger(tonumber(value))
      if not n then return nil, ("bad %s %q"):format(key, value) end
      rec[key] = n
    end
  end
  if not rec.uidvalidity or not rec.last_uid then
    return nil, "uidvalidity or last_uid missing"
  end
  return rec
end

-- format(record) -> the file's text.
function M.format(rec)
  local out = { "uidvalidity " .. rec.uidvalidity,
    "last_uid " .. rec.last_uid }
  if rec.uidnext then out[#out + 1] = "uidnext " .. rec.uidnext end
  if rec.highestmodseq then
    out[#out + 1] = "highestmodseq " .. rec.highestmodseq
  end
  out[#out + 1] = "updated " .. os.date("!%Y-%m-%dT%H:%M:%SZ")
  return table.concat(out, "\n") .. "\n"
end

-- read(account, mailbox) -> the recorded state or nil. A file that
-- cannot be read or parsed is logged as a warning and counts as absent:
-- the worst that does is look at every message once more.
function M.read(account_name, mailbox_name)
  local _, file = M.path(account_name, mailbox_name)
  local f = io.open(file, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local rec, why = M.parse(text or "")
  if not rec then
    plan.warn(("%s: %s: state file %s is unreadable (%s); every " ..
      "message counts as new"):format(account_name, mailbox_name, file, why))
  end
  return rec
end

-- Until the core offers mkdir_p and write_file_atomic, the same done
-- here with LuaFileSystem and a rename (no fsync, no mode 0600).
local function mkdir_p(path)
  if core.mkdir_p then return core.mkdir_p(path, tonumber("700", 8)) end
  local lfs = require "lfs"
  local sofar = path:sub(1, 1) == "/" and "" or "."
  for piece in path:gmatch("[^/]+") do
    sofar = sofar .. "/" .. piece
    if lfs.attributes(sofar, "mode") ~= "directory" then
      local ok, err = lfs.mkdir(sofar)
      if not ok and lfs.attributes(sofar, "mode") ~= "directory" then
        return nil, err
      end
    end
  end
  return true
end

local function write_atomic(file, data)
  if core.write_file_atomic then
    return core.write_file_atomic(file, data, tonumber("600", 8))
  end
  local tmp = file .. ".tmp" .. tostring(os.time())
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(data)
  f:close()
  if ok then ok, werr = os.rename(tmp, file) end
  if not ok then os.remove(tmp); return nil, werr end
  return true
end

-- write(record): the record's file, atomically; kind "io" on failure.
function M.write(rec)
  local d, file = M.path(rec.account, rec.mailbox)
  local ok, err = mkdir_p(d)
  if ok then ok, err = write_atomic(file, M.format(rec)) end
  if not ok then
    errors.raise{ kind = "io", command = "state", file = file,
      text = ("cannot write state file %s: %s"):format(file,
        tostring(err)) }
  end
end

---------------------------------------------------------------------------
-- Pending updates of this run

-- Per (account, mailbox) key, in the order first recorded: this run's
-- record (the latest), the rules that made one, whether a failed rule
-- blocked it, and the window of UIDs the run's first look found new.
local runs, order = {}, {}

local function key_of(account_name, mailbox_name)
  return account_name .. "\0" .. mailbox_name
end

local function run_of(account_name, mailbox_name)
  local key = key_of(account_name, mailbox_name)
  local r = runs[key]
  if not r then
    r = { rules = {} }
    runs[key] = r
    order[#order + 1] = key
  end
  return r
end

-- record(rec): adds a pending record { account, mailbox, uidvalidity,
-- last_uid, uidnext, highestmodseq, rule } (what Mailbox:new() does);
-- ignored once a failed rule blocked that mailbox for this run.
function M.record(rec)
  if type(rec) ~= "table" or type(rec.account) ~= "string" or
      type(rec.mailbox) ~= "string" or
      math.type(rec.uidvalidity) ~= "integer" or
      math.type(rec.last_uid) ~= "integer" then
    errors.usage("state.record", "needs account, mailbox, uidvalidity " ..
      "and last_uid")
  end
  local r = run_of(rec.account, rec.mailbox)
  if rec.rule then r.rules[rec.rule] = true end
  if not r.blocked then r.rec = rec end
end

-- pending() -> array of the records a commit would write.
function M.pending()
  local out = {}
  for _, key in ipairs(order) do
    local r = runs[key]
    if r.rec and not r.blocked then out[#out + 1] = r.rec end
  end
  return out
end

-- discard(): forget every pending record (and this run's windows).
function M.discard()
  runs, order = {}, {}
end

-- drop_rule(name): a failed rule may not have dealt with the mail it
-- was given, so no mailbox it looked at for new mail records anything
-- in this run, whichever rule recorded last: the next run sees that
-- mail again (seeing it twice is safe, missing it is not).
function M.drop_rule(name)
  for _, r in pairs(runs) do
    if r.rules[name] then r.blocked, r.rec = true, nil end
  end
end
plan.on_rule_error(function(name) M.drop_rule(name) end)

-- commit() -> number of files written: the pending records, then none
-- is pending. A dry run writes nothing (what it saw was not acted on).
-- A failure raises kind "io" naming the file; the rest are forgotten
-- too, so the next run looks at their mail again.
function M.commit()
  local recs = M.pending()
  M.discard()
  if plan.is_dry() then return 0 end
  for _, rec in ipairs(recs) do M.write(rec) end
  return #recs
end

---------------------------------------------------------------------------
-- Mailbox:new()

-- The UIDs in (last, top] (top nil: no bound) in the selected mailbox
-- of conn. "n:*" always matches the highest UID, even below n: filtered.
local function uids_between(conn, box, last, top)
  if box.exists == 0 or (top and top <= last) then return {} end
  local keys = { "ALL" }
  if top then keys = { "UID", ("%d:%d"):format(last + 1, top) }
  elseif last > 0 then keys = { "UID", ("%d:*"):format(last + 1) } end
  local out = {}
  for _, uid in ipairs(conn:search(keys)) do
    if uid > last and (not top or uid <= top) then out[#out + 1] = uid end
  end
  return out
end

-- Nothing can have arrived when UIDNEXT (and HIGHESTMODSEQ, when both
-- sides know it) are what was recorded: no search is needed.
local function unchanged(rec, box)
  if rec.uidnext == nil or rec.uidnext ~= box.uidnext then return false end
  if rec.highestmodseq and box.highestmodseq then
    return rec.highestmodseq == box.highestmodseq
  end
  return true
end

-- last_seen(rec, box) -> the UID above which mail is new, and whether
-- the record still holds (same UIDVALIDITY).
local function last_seen(rec, box)
  if not rec then return 0, false end
  if rec.uidvalidity ~= box.uidvalidity then return 0, false end
  return rec.last_uid, true
end

local function warn_validity(mb, rec, box)
  plan.warn(("%s: %s: UIDVALIDITY changed from %d to %d; every " ..
    "message counts as new"):format(mb.account.name, mb.name,
    rec.uidvalidity, box.uidvalidity))
end

local function check_box(mb, box)
  if math.type(box.uidvalidity) ~= "integer" then
    errors.raise{ kind = "protocol", command = "SELECT " .. mb.name,
      mailbox = mb.name, text = ("the server gave no UIDVALIDITY for %s")
        :format(mb.name) }
  end
end

-- remember(mb, run, box, last, uids, window): this run's window (the
-- first look's, unless window is still valid) and a pending record of it.
-- The record keeps the first look's UIDNEXT: mail that arrived later in
-- the run is above the window, so the next run must search for it.
local function remember(mb, run, box, last, uids, w)
  if not w then
    w = { base = last, top = math.max(last, uids[#uids] or 0),
      uidvalidity = box.uidvalidity, uidnext = box.uidnext,
      highestmodseq = box.highestmodseq }
    run.window = w
  end
  M.record{ account = mb.account.name, mailbox = mb.name,
    uidvalidity = w.uidvalidity, last_uid = w.top, uidnext = w.uidnext,
    highestmodseq = w.highestmodseq, rule = plan.current() }
end

-- Mailbox:new([opts]) -> MessageSet of the messages that arrived since
-- the last recorded run (all of them the first time, or when UIDVALIDITY
-- changed), and a pending record of what is now seen. One SELECT (EXAMINE
-- in a dry run) and at most one UID SEARCH. Every look in one run sees
-- the same window of UIDs as the first (what is still in the mailbox of
-- it): mail arriving during the run is for the next one, for all rules
-- alike. opts: reserved (a table).
function mailbox.Mailbox:new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    errors.usage("new", "bad argument #1 (table expected, got %s)",
      type(opts))
  end
  local run = run_of(self.account.name, self.name)
  local w = run.window
  local rec = w and { uidvalidity = w.uidvalidity, last_uid = w.base } or
    M.read(self.account.name, self.name)
  mailbox.flush_account(self.account)
  local box, last, uids, valid = self.account:read(function(conn)
    local b = self:select_now()
    check_box(self, b)
    local l, v = last_seen(rec, b)
    if v and not w and unchanged(rec, b) then return b, l, {}, v end
    return b, l, uids_between(conn, b, l, v and w and w.top or nil), v
  end)
  if rec and not valid then warn_validity(self, rec, box) end
  plan.count("examined", #uids)
  remember(self, run, box, last, uids, valid and w or nil)
  return msgset.new{ { mailbox = self, uidvalidity = box.uidvalidity,
    uids = uids } }
end

return M
