-- imapsift.state: what a scheduled run remembers between runs, per
-- account and mailbox: the UIDVALIDITY, the last UID and UIDNEXT it has
-- seen, so that Mailbox:new() gives only the mail that arrived since
-- (RFC 9051 2.3.1.1: UIDs only grow while UIDVALIDITY stays), and the
-- HIGHESTMODSEQ, so that Mailbox:changed() gives the messages whose flags
-- changed since (RFC 7162 CONDSTORE; one SELECT with QRESYNC when
-- offered) and Mailbox:vanished() those expunged since (QRESYNC's
-- VANISHED (EARLIER)). An unchanged mailbox costs one STATUS. A run
-- records its updates as pending; the caller commits them once the run
-- went well.
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
-- The first look of a run

-- Whether the server keeps mod-sequences we may ask for (RFC 7162).
local function condstore(conn)
  return (conn.capabilities or {}).CONDSTORE == true
end

local function check_box(mb, box, how)
  if math.type(box.uidvalidity) ~= "integer" then
    errors.raise{ kind = "protocol", command = how .. " " .. mb.name,
      mailbox = mb.name, text = ("the server gave no UIDVALIDITY for %s")
        :format(mb.name) }
  end
end

-- probe(mb, conn, modseq) -> { uidvalidity, uidnext, highestmodseq }:
-- the mailbox as it is now, by one STATUS when it is not the selected one
-- (no SELECT; RFC 9051 6.3.11 says not to trust STATUS on the selected
-- mailbox), else from its SELECT. modseq: HIGHESTMODSEQ too (RFC 7162
-- 3.1.3; only asked for when offered, as it turns CONDSTORE on).
local function probe(mb, conn, modseq)
  local b = conn.mailbox
  modseq = modseq and condstore(conn)
  if b and b.name == mb.name and b.uidvalidity then
    b = mb:select_now(nil, modseq)
    check_box(mb, b, "SELECT")
    return b
  end
  local items = { "UIDNEXT", "UIDVALIDITY" }
  if modseq then items[3] = "HIGHESTMODSEQ" end
  local st = conn:status(mb.name, items)
  check_box(mb, st, "STATUS")
  return st
end

local function warn_validity(mb, rec, box)
  plan.warn(("%s: %s: UIDVALIDITY changed from %d to %d; every " ..
    "message counts as new"):format(mb.account.name, mb.name,
    rec.uidvalidity, box.uidvalidity))
end

-- look(mb, run, modseq) -> the run's window of mb: what its first look
-- saw { uidvalidity, uidnext, highestmodseq (asked for when modseq or
-- recorded) } and the record of the last run (rec, nil when absent or of
-- another UIDVALIDITY). With a record the look is one STATUS; without one a
-- SELECT, which the search that follows needs anyway.
local function look(mb, run, modseq)
  local rec = M.read(mb.account.name, mb.name)
  -- A record with HIGHESTMODSEQ: changed() is used, likely in this run.
  modseq = modseq or (rec and rec.highestmodseq ~= nil)
  local b = mb.account:read(function(conn)
    if rec then return probe(mb, conn, modseq) end
    local box = mb:select_now(nil, modseq and condstore(conn))
    check_box(mb, box, "SELECT")
    return box
  end)
  local w = { uidvalidity = b.uidvalidity, uidnext = b.uidnext,
    highestmodseq = b.highestmodseq }
  if rec and rec.uidvalidity == b.uidvalidity then w.rec = rec
  elseif rec then warn_validity(mb, rec, b) end
  run.window = w
  return w
end

-- same(mb, w, b) -> b; raises kind "uidvalidity" when b's UIDVALIDITY
-- is no longer the window's (its UIDs name other messages now).
local function same(mb, w, b)
  if b.uidvalidity ~= w.uidvalidity then
    errors.raise{ kind = "uidvalidity", command = "SELECT " .. mb.name,
      mailbox = mb.name, old = w.uidvalidity, new = b.uidvalidity,
      text = ("UIDVALIDITY of %s changed from %s to %s during the run")
        :format(mb.name, tostring(w.uidvalidity), tostring(b.uidvalidity)) }
  end
  return b
end

-- select_same(mb, w [, modseq]) -> box: mb selected, still the window's.
local function select_same(mb, w, modseq)
  return same(mb, w, mb:select_now(nil, modseq))
end

-- remember(mb, run): a pending record of the run's window. new() moves
-- last_uid and uidnext, changed() highestmodseq; what this run did not
-- ask for stays as the last run recorded it, so neither misses mail.
-- The record keeps the first look's UIDNEXT and HIGHESTMODSEQ: what
-- happened later in the run is for the next one.
local function remember(mb, run)
  local w = run.window
  local old, n = w.rec or {}, w.new
  M.record{ account = mb.account.name, mailbox = mb.name,
    uidvalidity = w.uidvalidity,
    last_uid = n and n.top or old.last_uid or 0,
    uidnext = (n or old).uidnext,
    highestmodseq = w.changed and w.highestmodseq or old.highestmodseq,
    rule = plan.current() }
end

local function check_opts(what, opts)
  if opts ~= nil and type(opts) ~= "table" then
    errors.usage(what, "bad argument #1 (table expected, got %s)",
      type(opts))
  end
end

local function result(mb, w, uids)
  plan.count("examined", #uids)
  return msgset.new{ { mailbox = mb, uidvalidity = w.uidvalidity,
    uids = uids } }
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

-- new_uids(mb, w) -> the UIDs of the window's new mail still in mb.
-- Nothing can have arrived while UIDNEXT is what was recorded (RFC 9051
-- 2.3.1.1: it changes whenever mail is added): then, and for an empty
-- window later in the run, nothing is sent.
local function new_uids(mb, w)
  local n = w.new
  if n and n.top <= n.base then return {} end
  local last = n and n.base or (w.rec and w.rec.last_uid) or 0
  if not n and w.rec and w.rec.uidnext and w.rec.uidnext == w.uidnext then
    w.new = { base = last, top = last, uidnext = w.uidnext }
    return {}
  end
  local box, uids = mb.account:read(function(conn)
    local b = select_same(mb, w)
    return b, uids_between(conn, b, last, n and n.top)
  end)
  if not n then
    w.new = { base = last, top = math.max(last, uids[#uids] or 0),
      uidnext = box.uidnext }
  end
  return uids
end

-- Mailbox:new([opts]) -> MessageSet of the messages that arrived since
-- the last recorded run (all of them the first time, or when UIDVALIDITY
-- changed), and a pending record of what is now seen. An unchanged
-- mailbox costs one STATUS; else a SELECT (EXAMINE in a dry run) and one
-- UID SEARCH. Every look in one run sees the same window of UIDs as the
-- first (what is still in the mailbox of it): mail arriving during the
-- run is for the next one, for all rules alike. opts: reserved (a table).
function mailbox.Mailbox:new(opts)
  check_opts("new", opts)
  local run = run_of(self.account.name, self.name)
  mailbox.flush_account(self.account)
  local w = run.window or look(self, run, false)
  local uids = new_uids(self, w)
  remember(self, run)
  return result(self, w, uids)
end

---------------------------------------------------------------------------
-- Mailbox:changed()

-- modseq(mb, w): the window's HIGHESTMODSEQ, asked for now when the
-- run's first look did not need it. Kind "usage" when the mailbox keeps
-- no mod-sequences (NOMODSEQ).
local function modseq(mb, w)
  if w.highestmodseq then return end
  local b = mb.account:read(function(conn) return probe(mb, conn, true) end)
  same(mb, w, b)
  if math.type(b.highestmodseq) ~= "integer" then
    errors.usage("changed", "%s keeps no mod-sequences (NOMODSEQ)", mb.name)
  end
  w.highestmodseq = b.highestmodseq
end

-- mark(mb, w) -> w.changed: the recorded HIGHESTMODSEQ (since; nil
-- without one) and the top of the window's UIDs. changed() and
-- vanished() share it: a run that asks either moves it for both.
local function mark(mb, w)
  local c = w.changed
  if not c then
    modseq(mb, w)
    c = { since = w.rec and w.rec.highestmodseq,
      top = w.uidnext and w.uidnext - 1 }
    w.changed = c
  end
  return c
end

-- Whether the server offers QRESYNC (RFC 7162 3.2).
local function qresync(conn)
  return (conn.capabilities or {}).QRESYNC == true
end

-- enable_qresync(conn) -> whether QRESYNC is on for this session. ENABLE
-- is for the authenticated state (RFC 5161 3.1): a selected mailbox is
-- left by UNSELECT first, once per session; without UNSELECT, false.
local function enable_qresync(conn)
  if (conn.enabled_caps or {}).QRESYNC then return true end
  if conn.mailbox and not conn.capabilities.UNSELECT then return false end
  if conn.mailbox then conn:unselect() end
  conn:enable("QRESYNC")
  return (conn.enabled_caps or {}).QRESYNC == true
end

-- window_uids(list, top) -> the distinct UIDs of list up to top, sorted.
local function window_uids(list, top)
  local seen, out = {}, {}
  for _, uid in ipairs(list or {}) do
    if not seen[uid] and (not top or uid <= top) then
      seen[uid], out[#out + 1] = true, uid
    end
  end
  table.sort(out)
  return out
end

-- resync(mb, w, c) -> { changed, vanished } of the window's UIDs since
-- c.since, from one SELECT with QRESYNC (RFC 7162 3.2.5): its FETCH
-- responses and VANISHED (EARLIER); the first answer of the run is
-- kept. nil when QRESYNC cannot be used (then changed() searches).
local function resync(mb, w, c)
  if w.resync then return w.resync end
  local known = c.top and ("1:%d"):format(c.top)
  local r = mb.account:read(function(conn)
    if not qresync(conn) or not enable_qresync(conn) then return nil end
    local b = same(mb, w, conn:select(mb.name, { readonly = plan.is_dry(),
      qresync = { uidvalidity = w.uidvalidity, modseq = c.since,
        known = known } }))
    return { changed = window_uids(b.changed, c.top),
      vanished = window_uids(b.vanished, c.top) }
  end)
  w.resync = r
  return r
end

-- changed_uids(mb, w) -> the UIDs below the window's UIDNEXT whose
-- mod-sequence passed the recorded HIGHESTMODSEQ (all of them without
-- one): from resync() with QRESYNC, else UID SEARCH MODSEQ (RFC 7162
-- 3.1.5). Nothing is sent past the look while HIGHESTMODSEQ is as
-- recorded.
local function changed_uids(mb, w)
  local c = mark(mb, w)
  if c.since == w.highestmodseq or (c.top and c.top < 1) then return {} end
  local r = c.since and resync(mb, w, c)
  if r then return r.changed end
  return mb.account:read(function(conn)
    local b = select_same(mb, w, true)
    if b.exists == 0 then return {} end
    local keys = c.top and { "UID", "1:" .. c.top } or {}
    if c.since then
      keys[#keys + 1], keys[#keys + 2] = "MODSEQ", c.since + 1
    end
    return conn:search(#keys > 0 and keys or { "ALL" })
  end)
end

-- Mailbox:changed([opts]) -> MessageSet of the messages whose flags
-- changed since the last recorded run that asked (all of them the first
-- time, or when UIDVALIDITY changed); mail that arrived since counts as
-- changed too (changed() - new() leaves it out). Changes the run itself
-- makes count for the next run. An unchanged mailbox costs one STATUS;
-- else one SELECT with QRESYNC when the server offers it (ENABLE QRESYNC
-- once per session before), otherwise a SELECT (CONDSTORE) and one UID
-- SEARCH MODSEQ. Recorded like new(), with the same window. Needs
-- CONDSTORE (RFC 7162): kind "usage" without it. opts: reserved (a table).
function mailbox.Mailbox:changed(opts)
  check_opts("changed", opts)
  if not self.account:read(condstore) then
    errors.usage("changed", "the server does not offer CONDSTORE")
  end
  local run = run_of(self.account.name, self.name)
  mailbox.flush_account(self.account)
  local w = run.window or look(self, run, true)
  local uids = changed_uids(self, w)
  remember(self, run)
  return result(self, w, uids)
end

---------------------------------------------------------------------------
-- Mailbox:vanished()

-- vanished_uids(mb, w) -> the UIDs below the window's UIDNEXT expunged
-- since the recorded HIGHESTMODSEQ; none without one (nothing was known
-- to vanish from). Under QRESYNC an expunge moves HIGHESTMODSEQ (RFC 7162
-- 3.2), so an unchanged one means nothing vanished.
local function vanished_uids(mb, w)
  local c = mark(mb, w)
  if not c.since or c.since == w.highestmodseq or (c.top and c.top < 1) then
    return {}
  end
  local r = resync(mb, w, c)
  if not r then
    errors.raise{ kind = "unsupported", command = "vanished",
      mailbox = mb.name, capability = "UNSELECT",
      text = ("cannot enable QRESYNC for %s: a mailbox is selected and " ..
        "the server lacks UNSELECT"):format(mb.name) }
  end
  return r.vanished
end

-- Mailbox:vanished([opts]) -> MessageSet of the UIDs expunged since the
-- last recorded run that asked changed() or vanished() (they share one
-- mark: a script that wants both asks both in the same run); empty the
-- first time or when UIDVALIDITY changed. The messages are gone: the set
-- is for bookkeeping (its UIDs), not for actions. Costs what changed()
-- costs with QRESYNC, and one call answers both. Needs QRESYNC (RFC 7162
-- 3.2.10, VANISHED (EARLIER)): kind "unsupported" (mailbox, capability)
-- without it, since a server without it keeps no record of expunges.
-- opts: reserved (a table).
function mailbox.Mailbox:vanished(opts)
  check_opts("vanished", opts)
  if not self.account:read(qresync) then
    errors.raise{ kind = "unsupported", command = "vanished",
      mailbox = self.name, capability = "QRESYNC",
      text = ("vanished() on %s needs QRESYNC, which the server does " ..
        "not offer"):format(self.name) }
  end
  local run = run_of(self.account.name, self.name)
  mailbox.flush_account(self.account)
  local w = run.window or look(self, run, true)
  local uids = vanished_uids(self, w)
  remember(self, run)
  -- Gone mail is not examined: no count, unlike result().
  return msgset.new{ { mailbox = self, uidvalidity = w.uidvalidity,
    uids = uids } }
end

return M
