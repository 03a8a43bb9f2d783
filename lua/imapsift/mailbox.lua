-- imapsift.mailbox: a mailbox of an account: selecting it (EXAMINE in a
-- dry run), checking that its UIDVALIDITY is still the one a message set
-- was taken with (RFC 9051 2.3.1.1), and searching it into MessageSets.
-- Searches wait until a set is first used, then go out together with the
-- others waiting on the mailbox (pipelined: one round trip for N).

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

-- Searches asked for and not yet sent: per account, per mailbox (in the
-- order first asked: order), the waiting sets (weak: a set dropped unused
-- costs no search) and their keys.
local waiting = setmetatable({}, { __mode = "k" })

local function queue(mb, set, keys)
  local per = waiting[mb.account] or { order = {} }
  waiting[mb.account] = per
  local q = per[mb]
  if not q then
    q = { n = 0, sets = setmetatable({}, { __mode = "v" }), keys = {} }
    per[mb] = q
    per.order[#per.order + 1] = mb
  end
  q.n = q.n + 1
  q.sets[q.n], q.keys[q.n] = set, keys
end

-- take(mb) -> sets, keys: the live waiting searches of mb, dequeued.
local function take(mb)
  local per = waiting[mb.account]
  local q = per and per[mb]
  local sets, keys = {}, {}
  if not q then return sets, keys end
  per[mb] = nil
  for i, m in ipairs(per.order) do
    if m == mb then table.remove(per.order, i); break end
  end
  for i = 1, q.n do
    if q.sets[i] then
      sets[#sets + 1], keys[#keys + 1] = q.sets[i], q.keys[i]
    end
  end
  return sets, keys
end

local function requeue(mb, sets, keys)
  for i, set in ipairs(sets) do queue(mb, set, keys[i]) end
end

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

-- flush(): sends every search waiting on this mailbox together and
-- settles their sets (a failed search's set raises its error when used).
-- A lost link puts them back in the queue and raises.
function Mailbox:flush()
  local sets, keys = take(self)
  if #sets == 0 then return end
  local failed_before = rawget(self.account, "failed")
  local ok, uv, results, failures = pcall(self.account.read, self.account,
    function(conn)
      local box = self:select_now()
      local r, f = conn:search_many(keys)
      return box.uidvalidity, r, f
    end)
  if not ok and rawget(self.account, "failed") then
    -- The account cannot connect in this run: its sets fail with that
    -- error when used; only the flush that found it out raises, so no
    -- later rule's end trips over them.
    for _, set in ipairs(sets) do msgset().settle(set, nil, uv) end
    if failed_before then return end
    error(uv, 0)
  end
  if not ok then requeue(self, sets, keys); error(uv, 0) end
  local p = account.plan()
  for i, set in ipairs(sets) do
    if failures[i] then msgset().settle(set, nil, failures[i])
    else
      if p then p.count("examined", #results[i]) end -- the run summary's
      msgset().settle(set, { { mailbox = self, uidvalidity = uv,
        uids = results[i] } })
    end
  end
end

-- flush_account(acct): the waiting searches of every mailbox of acct,
-- mailbox by mailbox. Anything that selects does this first, so that a
-- search answers for the mail as it was when it was asked for.
function M.flush_account(acct)
  local per = waiting[acct]
  if not per then return end
  local boxes = table.move(per.order, 1, #per.order, 1, {})
  for _, mb in ipairs(boxes) do mb:flush() end
end

-- flush_all(): every waiting search (the end of a rule).
function M.flush_all()
  local accts = {}
  for acct in pairs(waiting) do accts[#accts + 1] = acct end
  for _, acct in ipairs(accts) do M.flush_account(acct) end
end
do
  local p = account.plan()
  if p and p.at_rule_end then p.at_rule_end(M.flush_all) end
end

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
-- is sent when the set is first used (or something selects, or the rule
-- ends), together with every other search waiting on the mailbox.
function Mailbox:search(c)
  local keys = keys_of(c)
  local set = msgset().pending(function() self:flush() end)
  queue(self, set, keys)
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

function Mailbox:__tostring()
  return ("mailbox %s of %s"):format(self.name, self.account.name)
end

return M
