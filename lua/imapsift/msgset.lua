-- imapsift.msgset: MessageSet, the value a search returns: per mailbox,
-- the UIDVALIDITY it was taken under and sorted unique UIDs. Sets combine
-- with + (union), * (intersection) and - (difference) per mailbox, are
-- read in batches (each, messages, match) and acted on (actions.lua).

local errors = require "imapsift.error"

local M = {}

local MessageSet = {}
MessageSet.__index = MessageSet
M.MessageSet = MessageSet

-- UIDs fetched per batch when a set is read: the first batch has BATCH,
-- each next one twice as many up to MAX_BATCH. Small reads (and loops that
-- stop early) stay cheap; a big one costs few round trips (a batch's
-- FETCH commands are pipelined), and memory is bounded by MAX_BATCH.
M.BATCH = 500
M.MAX_BATCH = 8000

-- batches(n) -> iterator of first, last: 1..n cut into growing batches.
function M.batches(n)
  local first, size = 1, M.BATCH
  return function()
    if first > n then return nil end
    local f, l = first, math.min(n, first + size - 1)
    first, size = l + 1, math.min(size * 2, math.max(M.MAX_BATCH, M.BATCH))
    return f, l
  end
end

local function check_part(p, i)
  if type(p) ~= "table" or type(p.mailbox) ~= "table" or
      math.type(p.uidvalidity) ~= "integer" or type(p.uids) ~= "table" then
    errors.usage("msgset.new", "parts[%d] needs mailbox, uidvalidity " ..
      "and uids", i)
  end
end

-- new(parts) -> MessageSet. parts: array of { mailbox = Mailbox,
-- uidvalidity = n, uids = sorted unique array }; the set owns them.
function M.new(parts)
  parts = parts or {}
  for i, p in ipairs(parts) do check_part(p, i) end
  return setmetatable({ parts_ = parts }, MessageSet)
end

function M.is(v) return getmetatable(v) == MessageSet end

-- A set from Mailbox:search may still wait for its answer, so that the
-- searches asked for together go out together (one round trip): its
-- pending_ is then the function that gets the answer, and the first look
-- at its parts calls it. A search that failed leaves its error, raised
-- by every look. A set with flag changes still queued on it
-- (imapsift.batch) has them sent first: a look is a sync point, so that
-- what is read afterwards sees them and their errors are reported.
local function parts_of(set)
  local fill = set.pending_
  if fill then fill(set) end
  if (rawget(set, "waiting_") or 0) > 0 then
    for _, p in ipairs(set.parts_ or {}) do
      require("imapsift.batch").drain(p.mailbox)
    end
  end
  if set.pending_ then
    errors.raise{ kind = "protocol", command = "SEARCH",
      text = "a waiting search of this set was never sent" }
  end
  if set.failed_ then error(set.failed_, 0) end
  return set.parts_
end

-- pending(fill [, mailbox]) -> MessageSet whose parts fill(set) will
-- settle: the answer of a search of mailbox.
function M.pending(fill, mailbox)
  return setmetatable({ pending_ = fill, box_ = mailbox }, MessageSet)
end

-- settle(set, parts [, err]): the answer of a pending set: its parts, or
-- the error of its search (parts nil).
function M.settle(set, parts, err)
  for i, p in ipairs(parts or {}) do check_part(p, i) end
  set.parts_, set.failed_, set.pending_ = parts, err, nil
end

-- parts() -> the array of parts (do not change it).
function MessageSet:parts() return parts_of(self) end

function MessageSet:__len()
  local n = 0
  for _, p in ipairs(parts_of(self)) do n = n + #p.uids end
  return n
end

-- Merges of two sorted unique arrays.
local function union(a, b)
  local out, i, j = {}, 1, 1
  while i <= #a or j <= #b do
    local x, y = a[i], b[j]
    if y == nil or (x ~= nil and x < y) then out[#out + 1] = x; i = i + 1
    elseif x == nil or y < x then out[#out + 1] = y; j = j + 1
    else out[#out + 1] = x; i = i + 1; j = j + 1 end
  end
  return out
end

local function intersection(a, b)
  local out, i, j = {}, 1, 1
  while i <= #a and j <= #b do
    if a[i] < b[j] then i = i + 1
    elseif b[j] < a[i] then j = j + 1
    else out[#out + 1] = a[i]; i = i + 1; j = j + 1 end
  end
  return out
end

local function difference(a, b)
  local out, j = {}, 1
  for _, x in ipairs(a) do
    while b[j] and b[j] < x do j = j + 1 end
    if b[j] ~= x then out[#out + 1] = x end
  end
  return out
end

local function part_of(set, mailbox)
  for _, p in ipairs(parts_of(set)) do
    if p.mailbox == mailbox then return p end
  end
end

-- UIDs of one mailbox under two UIDVALIDITY values name different
-- messages: combining them would be meaningless.
local function same_validity(p, q, op)
  if p.uidvalidity ~= q.uidvalidity then
    errors.raise{ kind = "uidvalidity", command = "message set " .. op,
      mailbox = p.mailbox.name, old = p.uidvalidity, new = q.uidvalidity,
      text = ("sets of %s taken under UIDVALIDITY %d and %d cannot be " ..
        "combined"):format(p.mailbox.name, p.uidvalidity, q.uidvalidity) }
  end
end

local function check_sets(a, b, op)
  if not M.is(a) or not M.is(b) then
    errors.usage("message set " .. op, "both sides must be message sets")
  end
end

local function combine(a, b, op, fn, keep_a, keep_b)
  check_sets(a, b, op)
  local out = {}
  local function add(mailbox, uv, uids)
    if #uids > 0 then
      out[#out + 1] = { mailbox = mailbox, uidvalidity = uv, uids = uids }
    end
  end
  for _, p in ipairs(parts_of(a)) do
    local q = part_of(b, p.mailbox)
    if q then
      same_validity(p, q, op)
      add(p.mailbox, p.uidvalidity, fn(p.uids, q.uids))
    elseif keep_a then
      add(p.mailbox, p.uidvalidity, p.uids)
    end
  end
  for _, q in ipairs(parts_of(b)) do
    if keep_b and not part_of(a, q.mailbox) then
      add(q.mailbox, q.uidvalidity, q.uids)
    end
  end
  return M.new(out)
end

function MessageSet.__add(a, b) return combine(a, b, "+", union, true, true) end
function MessageSet.__mul(a, b)
  return combine(a, b, "*", intersection, false, false)
end
function MessageSet.__sub(a, b)
  return combine(a, b, "-", difference, true, false)
end

-- uids() -> the UIDs of a set of one mailbox (an empty set gives {});
-- a set spanning several mailboxes raises kind "usage" naming them.
function MessageSet:uids()
  local parts = parts_of(self)
  if #parts > 1 then
    local names = {}
    for i, p in ipairs(parts) do names[i] = p.mailbox.name end
    errors.usage("uids", "the set spans several mailboxes (%s): use " ..
      "set:parts()", table.concat(names, ", "))
  end
  return parts[1] and table.move(parts[1].uids, 1, #parts[1].uids, 1, {})
    or {}
end

function MessageSet:__tostring()
  if self.pending_ then return "message set (search not yet sent)" end
  if self.failed_ then
    return "message set (search failed: " .. tostring(self.failed_) .. ")"
  end
  local s = {}
  for i, p in ipairs(self.parts_) do
    s[i] = ("%s: %d"):format(p.mailbox.name, #p.uids)
  end
  return "message set (" .. table.concat(s, ", ") .. ")"
end

-- Reading (each, messages) is in message.lua, match in match.lua, the
-- actions in actions.lua: each method is one line here.
local function read(name)
  return function(self, ...)
    return require("imapsift.message")[name](self, ...)
  end
end
MessageSet.each = read("each")
MessageSet.messages = read("messages")
function MessageSet:match(...)
  return require("imapsift.match").match(self, ...)
end

local function act(name)
  return function(self, ...)
    return require("imapsift.actions")[name](self, ...)
  end
end
MessageSet.move_to = act("move")
MessageSet.copy_to = act("copy")
MessageSet.delete = act("delete")
-- The flag changes return the set (chainable): a real run queues them
-- (imapsift.batch) until a sync point, so their counts are in the plan.
local store = act("store")
function MessageSet:flag(f) return store(self, "+FLAGS", { f }) end
function MessageSet:unflag(f) return store(self, "-FLAGS", { f }) end
function MessageSet:mark_seen() return self:flag("\\Seen") end
function MessageSet:mark_unseen() return self:unflag("\\Seen") end
function MessageSet:add_keyword(k) return self:flag(k) end
function MessageSet:remove_keyword(k) return self:unflag(k) end

return M
