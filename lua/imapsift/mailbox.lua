-- imapsift.mailbox: a mailbox of an account: selecting it (EXAMINE in a
-- dry run), checking that its UIDVALIDITY is still the one a message set
-- was taken with (RFC 9051 2.3.1.1), and searching it into MessageSets.
-- Searches wait until a set is first used, then go out together with the
-- others waiting on the mailbox and the flag changes queued on them
-- (pipelined: one round trip for N; imapsift.batch).

local errors = require "imapsift.error"
local criteria = require "imapsift.criteria"
local account = require "imapsift.account"

local M = {}

local function msgset() return require "imapsift.msgset" end

local Mailbox = {}
Mailbox.__index = Mailbox
M.Mailbox = Mailbox

-- new(acct, name) -> Mailbox; use account:mailbox(name), which caches.
function M.new(acct, name)
  return setmetatable({ account = acct, name = name }, Mailbox)
end

local function is_dry()
  local p = account.plan()
  return p ~= nil and p.is_dry()
end

-- What waits on a mailbox (searches not yet sent, flag changes not yet
-- made) is queued in imapsift.batch, in the order asked.
local batch = require "imapsift.batch"

-- The plain select: no waiting search is sent first. condstore: SELECT
-- (CONDSTORE) when the server offers it (RFC 7162 3.1.8), so the box has
-- HIGHESTMODSEQ; a box selected without is selected again.
function Mailbox:select_now(readonly, condstore)
  local ro = readonly and true or is_dry()
  return self.account:read(function(c)
    local box = c.mailbox
    local cs = condstore and (c.capabilities or {}).CONDSTORE or nil
    if box and box.name == self.name and box.uidvalidity and
        (box.readonly == ro or (ro and not is_dry())) and
        (not cs or box.condstore or box.highestmodseq) then
      return box
    end
    return c:select(self.name, { readonly = ro, condstore = cs })
  end)
end

-- flush(): sends everything waiting on this mailbox (searches and the
-- flag changes queued on their sets) in as few round trips as it can and
-- settles the sets (a failed search's set raises its error when used; a
-- failed flag change is reported against the rule that asked for it).
-- A lost link puts back what may be sent again and raises.
function Mailbox:flush() batch.drain(self) end

-- flush_account(acct): what waits on every mailbox of acct, mailbox by
-- mailbox. Anything that selects does this first, so that a search
-- answers for the mail as it was when it was asked for.
M.flush_account = batch.drain_account

-- flush_all(): what waits on every account (not at each rule's end: 20
-- rules would cost 20 round trips; see README "Writing rules").
M.flush_all = batch.drain_all

-- select([readonly]) -> the connection's box table. EXAMINE when
-- readonly or in a dry run; nothing is sent when the mailbox is already
-- selected in a mode that serves (read-write serves reading too, except
-- in a dry run). Waiting searches of the account go out first.
function Mailbox:select(readonly)
  M.flush_account(self.account)
  return self:select_now(readonly)
end

-- ensure(uidvalidity [, readonly]) -> box: selects, and raises kind
-- "uidvalidity" (mailbox, old, new) when the mailbox's UIDVALIDITY is no
-- longer uidvalidity: UIDs taken before then name other messages.
function Mailbox:ensure(uidvalidity, readonly)
  local box = self:select(readonly)
  if box.uidvalidity ~= uidvalidity then
    errors.raise{ kind = "uidvalidity", command = "SELECT " .. self.name,
      mailbox = self.name, old = uidvalidity, new = box.uidvalidity,
      text = ("UIDVALIDITY of %s changed from %s to %s: the message set " ..
        "is stale"):format(self.name, tostring(uidvalidity),
        tostring(box.uidvalidity)) }
  end
  return box
end

-- Criteria: a table of named criteria (criteria.lua) or, as an escape,
-- search.lua's array form ({ "UNSEEN", "FROM", "x" }).
local function keys_of(c)
  if c == nil then return { "ALL" } end
  if type(c) == "table" and type(c[1]) == "string" then return c end
  return criteria.keys(c)
end

-- search(criteria) -> MessageSet of the matching messages. The search
-- is sent when the set is first used (or something selects, or the
-- script ends), together with everything else waiting on the mailbox.
function Mailbox:search(c)
  local keys = keys_of(c)
  local set = msgset().pending(function() self:flush() end, self)
  batch.queue_search(self, set, keys)
  return set
end

function Mailbox:select_all() return self:search{} end

-- exists() -> whether the server has a mailbox of exactly this name
-- (LIST reads * and % in it as wildcards, so names are compared).
function Mailbox:exists()
  return self.account:read(function(c)
    for _, mb in ipairs(c:list("", self.name)) do
      if mb.name == self.name then return true end
    end
    return false
  end)
end

-- create(): CREATE it (planned only in a dry run).
function Mailbox:create()
  return self.account:write(function(c) return c:create(self.name) end)
end

-- The plan entry of an append of count messages to mb.
local function append_entry(mb, count, note)
  local p = account.plan()
  if not p then return end
  p.record{ account = mb.account.name, mailbox = mb.name,
    action = "append", count = count, note = note }
end

-- Runs the append, creating the mailbox first on NO [TRYCREATE] when
-- the account allows it and nothing went in yet.
local function append_now(mb, messages, opts)
  local function go()
    return mb.account:write(function(c)
      return c:append_many(mb.name, messages, opts)
    end)
  end
  local ok, res = pcall(go)
  if ok then return res end
  if errors.is(res, "no") and res.code == "TRYCREATE" and
      res.appended == 0 and next(res.results or {}) == nil and
      mb.account.create then
    mb:create()
    return go()
  end
  error(res, 0)
end

-- append(messages [, opts]) -> imap:append_many's results: one
-- { uidvalidity, uid } or true per message, in order (messages: strings
-- or { message, flags, date }; opts as append_many takes them). Waiting
-- searches of the account go out first. Recorded in the plan; a dry run
-- plans it (noting a mailbox it would create) and returns {}. A failure
-- is recorded with what went in, then raised (err.appended).
function Mailbox:append(messages, opts)
  if type(messages) ~= "table" then
    errors.usage("append", "bad argument #1 (an array of messages " ..
      "expected, got %s)", type(messages))
  end
  M.flush_account(self.account)
  if is_dry() then
    local note
    if not self:exists() then
      if not self.account.create then -- as the real run would meet it
        errors.raise{ kind = "no", code = "TRYCREATE", command = "APPEND",
          mailbox = self.name, text = ("mailbox %s does not exist"):format(
            self.name) }
      end
      note = "would create " .. self.name
    end
    append_entry(self, #messages, note)
    return {}
  end
  local ok, res = pcall(append_now, self, messages, opts)
  if ok then
    append_entry(self, #res)
    return res
  end
  if errors.is(res) and res.appended then
    append_entry(self, res.appended, ("failed after %d of %d"):format(
      res.appended, #messages))
  end
  error(res, 0)
end

function Mailbox:__tostring()
  return ("mailbox %s of %s"):format(self.name, self.account.name)
end

return M
