-- imapsift.parallel: big set reads split over extra read-only (EXAMINE)
-- connections of the account (account.parallel, parallel_threshold):
-- chunks of UIDs go out on several links at once, each keeping WINDOW
-- FETCHes in flight, and are read back in UID order. A failing extra
-- link is dropped and its chunk read again on the main connection.

local errors = require "imapsift.error"
local set = require "imapsift.set"
local argforms = require "imapsift.args"

local M = {}

M.CHUNK = 2000 -- UIDs per chunk
M.WINDOW = 2   -- FETCHes in flight per extra connection

-- A lane: { conn, box = mailbox name examined, queue = chunks in flight }.
local function examine(lane, part)
  local name = part.mailbox.name
  if lane.box == name then return end
  local box = lane.conn:select(name, { readonly = true })
  if box.uidvalidity ~= part.uidvalidity then
    errors.raise{ kind = "uidvalidity", command = "EXAMINE " .. name,
      mailbox = name, old = part.uidvalidity, new = box.uidvalidity,
      text = ("UIDVALIDITY of %s changed from %s to %s: the message set " ..
        "is stale"):format(name, tostring(part.uidvalidity),
        tostring(box.uidvalidity)) }
  end
  lane.box = name
end

local function kill(lane)
  lane.dead = true
  pcall(lane.conn.shutdown, lane.conn)
end

-- A lane left with commands in flight (a loop that stopped early) has
-- them abandoned: their late answers are dropped before the next send.
local function reset(lane)
  for _, ch in ipairs(lane.queue or {}) do
    for _, tag in ipairs(ch.tags or {}) do
      pcall(lane.conn.conn.abandon, lane.conn.conn, tag)
    end
  end
  lane.queue = {}
end

-- Chunks name a range of the part's UIDs; the UIDs themselves are
-- copied out only while the chunk is being read, so a set of a million
-- is not held twice.
local function chunks_of(uids)
  local out = {}
  for i = 1, #uids, M.CHUNK do
    out[#out + 1] = { all = uids, first = i,
      last = math.min(#uids, i + M.CHUNK - 1) }
  end
  return out
end

local function uids_of(ch)
  return table.move(ch.all, ch.first, ch.last, 1, {})
end

local function send(lane, ch, list)
  local c = lane.conn
  ch.tags, ch.lane = {}, lane
  for _, piece in ipairs(set.split(uids_of(ch), c.max_line - 200)) do
    ch.tags[#ch.tags + 1] = c:send("UID FETCH",
      { argforms.seqset(piece), list }, "FETCH")
  end
  lane.queue[#lane.queue + 1] = ch
end

local function by_uid(a, b) return a.uid < b.uid end

-- Servers answer a UID FETCH in UID order as a rule: checking costs one
-- pass, sorting a comparator call per pair.
local function in_order(list)
  for k = 2, #list do
    if list[k - 1].uid > list[k].uid then return false end
  end
  return true
end

-- Reads the first chunk in flight on lane into ch.msgs (sorted by UID).
local function receive(lane, new)
  local ch = table.remove(lane.queue, 1)
  local out = {}
  local each = function(r)
    if r.type == "FETCH" and r.uid ~= nil then
      out[#out + 1] = new(r); return true
    end
  end
  for _, tag in ipairs(ch.tags) do
    lane.conn:wait(tag, "FETCH", each, "UID FETCH")
  end
  if not in_order(out) then table.sort(out, by_uid) end
  ch.msgs = out
end

-- reader(part, lanes, items, new, fallback) -> iterator of the
-- part's Messages in UID order. fallback(uids) reads on the main link.
function M.reader(part, lanes, items, new, fallback)
  local list = argforms.fetch_items(items, "FETCH")
  local chunks, next_send, i, buf, bi = chunks_of(part.uids), 1, 0, {}, 0
  for _, l in ipairs(lanes) do
    reset(l)
    local ok, err = pcall(examine, l, part)
    if not ok then
      if errors.is(err, "uidvalidity") then error(err, 0) end
      kill(l)
    end
  end
  local function fill()
    while next_send <= #chunks do
      local best
      for _, l in ipairs(lanes) do
        if not l.dead and #l.queue < M.WINDOW and
            (best == nil or #l.queue < #best.queue) then best = l end
      end
      if not best then return end
      local ch = chunks[next_send]
      if not pcall(send, best, ch, list) then kill(best); ch.lane = nil
      else next_send = next_send + 1 end
      if best.dead then return end
    end
  end
  local function read(ch)
    while ch.msgs == nil and ch.lane and not ch.lane.dead do
      local lane = ch.lane
      local front = lane.queue[1]
      if not pcall(receive, lane, new) then
        kill(lane)
        for _, q in ipairs(lane.queue) do q.lane = nil end
        front.lane = nil
        break
      end
    end
    if ch.msgs == nil then ch.msgs = fallback(uids_of(ch)) end
  end
  return function()
    while true do
      bi = bi + 1
      local m = buf[bi]
      if m then buf[bi] = false; return m end
      i = i + 1
      local ch = chunks[i]
      if ch == nil then return nil end
      if next_send <= i then next_send = i end
      fill()
      read(ch)
      buf, bi, chunks[i] = ch.msgs, 0, false
      ch.msgs = nil
    end
  end
end

return M
