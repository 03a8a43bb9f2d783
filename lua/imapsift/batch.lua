-- imapsift.batch: what rules leave waiting on a mailbox (searches not yet
-- sent, flag changes not yet made), in the order asked, and the drain
-- that sends it in as few round trips as it can: every command of a
-- flight goes out before any answer is read; with SEARCHRES (RFC 5182) a
-- search and the STORE on its result go out together as
-- UID SEARCH RETURN (SAVE ALL) ... then UID STORE $ ...; without it the
-- searches return first and the stores follow in one more flight. Each
-- answer is recorded against the rule that asked (imapsift.plan).

local errors = require "imapsift.error"
local set = require "imapsift.set"
local argforms = require "imapsift.args"

local M = {}

local function plan() return require "imapsift.plan" end
local function msgset() return require "imapsift.msgset" end

-- Bytes of commands sent ahead of the answers read: the flight's short
-- commands all go out at once, but never so many that a server blocked
-- writing answers could leave us blocked writing commands.
M.WINDOW_BYTES = 32 * 1024

-- queues[account] = { order = { mailbox... }, [mailbox] = { entry... } }
-- An entry: { kind = "search", ref = weak { set }, keys, rule } (a set
-- dropped unused costs no search) or { kind = "store", set, mode, flags,
-- rule [, part] } (part: the set's part in this mailbox when its UIDs
-- were known when asked).
local queues = setmetatable({}, { __mode = "k" })
local WEAK = { __mode = "v" }

local function push(mb, e)
  local per = queues[mb.account] or { order = {} }
  queues[mb.account] = per
  local q = per[mb]
  if not q then
    q = {}
    per[mb] = q
    per.order[#per.order + 1] = mb
  end
  q[#q + 1] = e
end

-- take(mb) -> the entries waiting on mb (maybe none), dequeued.
local function take(mb)
  local per = queues[mb.account]
  local q = per and per[mb]
  if not q then return {} end
  per[mb] = nil
  for i, m in ipairs(per.order) do
    if m == mb then table.remove(per.order, i); break end
  end
  return q
end

-- Puts entries back in front of whatever was queued on mb since.
local function requeue(mb, entries)
  if #entries == 0 then return end
  local rest = take(mb)
  for _, e in ipairs(entries) do push(mb, e) end
  for _, e in ipairs(rest) do push(mb, e) end
end

-- queue_search(mb, set, keys): the search of a pending set.
function M.queue_search(mb, s, keys)
  push(mb, { kind = "search", ref = setmetatable({ set = s }, WEAK),
    keys = keys, rule = plan().current() })
end

local function hold(s, n) rawset(s, "waiting_", (rawget(s, "waiting_") or 0) + n) end

-- queue_store(set, mode, flags) -> true when queued: mode "+FLAGS",
-- "-FLAGS" or "FLAGS", flags checked. A set whose search failed raises
-- its error now; a pending set whose mailbox is unknown is not queued.
function M.queue_store(s, mode, flags)
  local e = { kind = "store", set = s, mode = mode, flags = flags,
    rule = plan().current() }
  if rawget(s, "pending_") then
    local mb = rawget(s, "box_")
    if not mb then return false end
    rawset(s, "acted_", true)
    hold(s, 1)
    push(mb, e)
    return true
  end
  if rawget(s, "failed_") then error(rawget(s, "failed_"), 0) end
  for _, p in ipairs(rawget(s, "parts_") or {}) do
    if #p.uids > 0 then
      local pe = {}
      for k, v in pairs(e) do pe[k] = v end
      pe.part = p
      hold(s, 1)
      push(p.mailbox, pe)
    end
  end
  return true
end

-- waiting(set) -> whether flag changes on set are still queued.
function M.waiting(s) return (rawget(s, "waiting_") or 0) > 0 end

---------------------------------------------------------------------------
-- Planning a flight

-- Search keys whose answer a flag change can alter: a search asking
-- none of them may go out before stores queued ahead of it. Any string
-- counts, values too (a FROM "seen" is only kept in order, not wrong).
local FLAG_KEYS = { SEEN = true, UNSEEN = true, ANSWERED = true,
  UNANSWERED = true, FLAGGED = true, UNFLAGGED = true, DELETED = true,
  UNDELETED = true, DRAFT = true, UNDRAFT = true, NEW = true,
  KEYWORD = true, UNKEYWORD = true, MODSEQ = true, ["X-GM-RAW"] = true,
  ["X-GM-LABELS"] = true }

local function flag_dependent(keys)
  if type(keys) == "string" then return FLAG_KEYS[keys:upper()] or false end
  if type(keys) ~= "table" then return false end
  for _, v in pairs(keys) do
    if flag_dependent(v) then return true end
  end
  return false
end

-- The UIDs of entry e's set in mb, when known: from the part taken when
-- it was queued, or from its search, answered since.
local function known_uids(e, mb)
  if e.part then return e.part.uids, e.part.uidvalidity end
  if rawget(e.set, "pending_") then return nil end
  for _, p in ipairs(rawget(e.set, "parts_") or {}) do
    if p.mailbox == mb then return p.uids, p.uidvalidity end
  end
  return {}, nil
end

local function store_args(mode, flags, seqset)
  return { argforms.seqset(seqset), mode .. ".SILENT",
    argforms.flag_list(flags) }
end

-- The STOREs of e on uids (under UIDVALIDITY uv): one, or one per piece
-- of a set too long for one line, each piece knowing its UIDs so that
-- what the server confirmed can be told from what it did not.
local function store_cmds(c, e, uids, uv, out)
  local pieces = set.split(uids, c.max_line - 200)
  for _, piece in ipairs(pieces) do
    out[#out + 1] = { entry = e, name = "UID STORE",
      args = store_args(e.mode, e.flags, piece),
      what = "STORE " .. e.mode,
      uids = #pieces > 1 and set.expand(piece) or nil, uv = uv }
  end
end

-- A search command for e, with RETURN (SAVE ALL) when save; nil when the
-- search cannot be one command (a UID array too long for one line).
local function search_cmd(c, e, save)
  local ok, name, args, what = pcall(c.search_command, c, e.keys)
  if not ok then return { entry = e, failed = name } end
  if not name then return nil end
  if save then
    args = table.move(args, 1, #args, 1, {})
    args[2] = { "SAVE", "ALL" } -- args[1] is RETURN: SEARCHRES has ESEARCH
  end
  return { entry = e, name = name, args = args, what = what, search = true,
    save = save }
end

-- A store on a set whose UIDs are known: fails at once when the
-- mailbox's UIDVALIDITY changed since (the UIDs name other messages).
local function settled_store(c, e, uids, uv, box, out)
  if e.set and rawget(e.set, "failed_") then
    out[#out + 1] = { entry = e, failed = rawget(e.set, "failed_") }
  elseif uv and uv ~= box.uidvalidity then
    out[#out + 1] = { entry = e, failed = errors.new{ kind = "uidvalidity",
      command = "STORE " .. e.mode, mailbox = box.name, old = uv,
      new = box.uidvalidity, text = ("UIDVALIDITY of %s changed from %s " ..
        "to %s: the message set is stale"):format(box.name, tostring(uv),
        tostring(box.uidvalidity)) } }
  elseif #uids == 0 then
    out[#out + 1] = { entry = e, empty = true }
  else
    store_cmds(c, e, uids, uv, out)
  end
end

-- plan_flight(c, mb, box, entries) -> cmds, later: the commands that can
-- go out now, in order, and the entries that must wait for their
-- answers. A store on a set whose search is unanswered needs SEARCHRES
-- and $ still holding that search's result; else it and every later
-- store wait, and only later searches no flag change can alter go ahead.
local function plan_flight(c, mb, box, entries)
  local res = c.capabilities.SEARCHRES and c.capabilities.ESEARCH
  local cmds, later, dollar, blocked = {}, {}, nil, false
  for i, e in ipairs(entries) do
    if e.kind == "search" then
      local s = e.ref.set
      if s and rawget(s, "pending_") then
        if blocked and flag_dependent(e.keys) then later[#later + 1] = e
        else
          local save = res and not blocked and rawget(s, "acted_")
          local cmd = search_cmd(c, e, save)
          if not cmd then -- too long for one command: alone, in order
            if #cmds > 0 or blocked then
              table.move(entries, i, #entries, #later + 1, later)
              return cmds, later
            end
            cmds[1] = { entry = e, split = true }
            table.move(entries, i + 1, #entries, #later + 1, later)
            return cmds, later
          end
          if cmd.save then dollar = s end
          cmds[#cmds + 1] = cmd
        end
      end
    elseif blocked then later[#later + 1] = e
    else
      local uids, uv = known_uids(e, mb)
      if uids or rawget(e.set, "failed_") then
        settled_store(c, e, uids or {}, uv, box, cmds)
      elseif dollar == e.set then
        cmds[#cmds + 1] = { entry = e, name = "UID STORE", dollar = true,
          args = store_args(e.mode, e.flags, "$"), what = "STORE " .. e.mode }
      else
        blocked = true
        later[#later + 1] = e
      end
    end
  end
  return cmds, later
end

---------------------------------------------------------------------------
-- Sending a flight

-- Failures that belong to one command; any other (a lost link, a
-- timeout) leaves the rest of the flight unanswered.
local OWN = { no = true, bad = true, limit = true, protocol = true,
  usage = true, readonly = true }

local function own(c, err)
  return errors.is(err) and OWN[err.kind] and c.conn ~= nil and
    not c.conn:closed() and not c.dropped
end

local function size_of(v)
  if type(v) ~= "table" then return #tostring(v) + 1 end
  local n = 2
  for _, x in pairs(v) do n = n + size_of(x) end
  return n
end

-- The answer of command k: true, uids (a search) or true (a store), or
-- false, err for a failure of its own; a lost link raises.
local function answer_of(c, cmd, tag)
  if cmd.failed then return false, cmd.failed end
  if cmd.empty then return true, {} end
  if cmd.split then
    local ok, res = pcall(c.search, c, cmd.entry.keys)
    if ok or own(c, res) then return ok, res end
    error(res, 0)
  end
  if cmd.search then
    local results, failures = {}, {}
    local err = c:search_answer({ i = 1, what = cmd.what, name = cmd.name },
      tag, results, failures)
    if err then error(err, 0) end
    if failures[1] then return false, failures[1] end
    return true, results[1]
  end
  local ok, err = pcall(c.wait, c, tag, cmd.what, nil, cmd.name)
  if ok or own(c, err) then return ok, err end
  error(err, 0)
end

-- A flight stays on the link it started on: a link seen lost is never
-- left to reconnect by itself (opts.reconnect) inside send, which would
-- put the rest of the flight on a new link, where $ is empty, the tags
-- start again and UIDVALIDITY may have changed.
local function gone(c, link, what)
  if c.conn == link and link and not link:closed() and not c.dropped then
    return nil
  end
  return errors.new{ kind = "closed", command = what,
    text = "the link was lost in the middle of a flight" }
end

-- run_flight(c, cmds, on_answer): sends cmds at most WINDOW_BYTES ahead
-- of the answers read (in practice all at once), and hands each answer
-- in order to on_answer(k, ok, res). A lost link raises { link = err,
-- at = k, sent = n }: answers 1..k-1 were handed on, commands k..n sent.
local function run_flight(c, cmds, on_answer)
  local tags, sizes, sent, ahead, link = {}, {}, 0, 0, c.conn
  local function cut(k, err)
    for i = k, sent do
      if tags[i] and c.conn and not c.conn:closed() then
        c.conn:abandon(tags[i])
      end
    end
    error({ link = err, at = k, sent = sent }, 0)
  end
  for k = 1, #cmds do
    while sent < #cmds and (sent < k or ahead < M.WINDOW_BYTES) do
      local cmd = cmds[sent + 1]
      if cmd.name then
        local lost_link = gone(c, link, cmd.what)
        if lost_link then cut(k, lost_link) end
        local ok, tag = pcall(c.send, c, cmd.name, cmd.args, cmd.what)
        if not ok then cut(k, tag) end
        tags[sent + 1], sizes[sent + 1] = tag, size_of(cmd.args)
        ahead = ahead + sizes[sent + 1]
      end
      sent = sent + 1
    end
    local ok, a, b = pcall(answer_of, c, cmds[k], tags[k])
    if not ok then cut(k, a) end
    ahead = ahead - (sizes[k] or 0)
    on_answer(k, a, b)
  end
end

---------------------------------------------------------------------------
-- Answers

local ACTION = { ["+FLAGS"] = "flag", ["-FLAGS"] = "unflag",
  FLAGS = "set flags" }

-- A store entry is done: recorded, or its error reported against the
-- rule that queued it; either way the set no longer waits for it.
local function release(e)
  if e.done then return end
  e.done = true
  hold(e.set, -1)
end

local function fail(e, err)
  if e.done then return end
  release(e)
  plan().fail(e.rule, err)
end

-- The entry of the plan for uids of e (not empty), stored in mb.
local function put(e, mb, uids)
  plan().record{ account = mb.account.name, mailbox = mb.name,
    action = ACTION[e.mode], flags = e.flags, rule = e.rule or false,
    uids = table.move(uids, 1, #uids, 1, {}) }
end

local function record(e, mb, uids)
  if e.done then return end
  release(e)
  if #uids > 0 then put(e, mb, uids) end
end

-- The pieces of a long set's STORE confirmed so far are recorded, then
-- the entry fails with err, or is recorded as a whole without one.
local function settle_pieces(e, mb, err)
  local done = e.confirmed or {}
  e.confirmed = nil
  if not err then return record(e, mb, done) end
  if #done > 0 and not e.done then put(e, mb, done) end
  fail(e, err)
end

local function confirm(e, uids)
  e.confirmed = e.confirmed or {}
  table.move(uids, 1, #uids, #e.confirmed + 1, e.confirmed)
end

local function settle_search(e, mb, box, ok, res)
  local s = e.ref.set
  if not (s and rawget(s, "pending_")) then return end
  if not ok then msgset().settle(s, nil, res); return end
  plan().count("examined", #res, e.rule or false)
  msgset().settle(s, { { mailbox = mb, uidvalidity = box.uidvalidity,
    uids = res } })
end

-- A STORE $ the server confirmed after a SAVE search that failed: a NO
-- or BAD left $ empty (RFC 5182 2.1), so nothing changed and the
-- search's error says it all; any other failure (a limit, a malformed
-- answer) was the client's alone: the server saved its result and the
-- STORE changed those messages, which the client cannot name.
local function dollar_error(mb, cmd, ok, err)
  if not (ok and cmd.dollar) or errors.is(err, "no") or
      errors.is(err, "bad") then
    return err
  end
  return errors.new{ kind = errors.is(err) and err.kind or "protocol",
    command = cmd.what, mailbox = mb.name, text = "the server confirmed " ..
      "it on the saved result of a search whose answer could not be read " ..
      "(" .. tostring(err) .. "): flags changed on messages not recorded" }
end

-- on_answer for command k of a flight. A store of several commands (a
-- long set split) is settled when its last one is answered: the pieces
-- confirmed are recorded, and the first refusal is reported.
local function answer(mb, box, cmds, k, ok, res)
  local cmd = cmds[k]
  local e = cmd.entry
  if e.kind == "search" then return settle_search(e, mb, box, ok, res) end
  local nxt = cmds[k + 1]
  local last = not (nxt and nxt.entry == e)
  if cmd.uids then
    if ok then confirm(e, cmd.uids) else e.err = e.err or res end
    if last then settle_pieces(e, mb, e.err) end
    return
  end
  local set_err = rawget(e.set, "failed_")
  if set_err then return fail(e, dollar_error(mb, cmd, ok, set_err)) end
  if not ok then return fail(e, res) end
  record(e, mb, known_uids(e, mb) or {})
end

-- A long set's STORE cut after some of its pieces were answered and
-- before the next was sent: those confirmed are recorded, a refusal is
-- reported, and e is queued again for the pieces from k on only.
local function narrow(e, mb, cmds, k)
  if not (e.confirmed or e.err) then return end
  if e.confirmed then put(e, mb, e.confirmed) end
  if e.err then plan().fail(e.rule, e.err) end
  e.confirmed, e.err = nil, nil
  local rest = {}
  for j = k, #cmds do
    if cmds[j].entry == e then
      table.move(cmds[j].uids, 1, #cmds[j].uids, #rest + 1, rest)
    end
  end
  e.part = { mailbox = mb, uids = rest, uidvalidity = cmds[k].uv }
end

-- After a lost link: searches not answered go back in the queue (a read
-- may be repeated), as do stores never sent; a store sent and not
-- confirmed is reported, never sent again blindly.
local function after_cut(mb, cmds, cut, later)
  local back, seen = {}, {}
  for k = cut.at, #cmds do
    local e = cmds[k].entry
    if not seen[e] then
      seen[e] = true
      if e.kind == "search" then back[#back + 1] = e
      elseif k <= cut.sent and cmds[k].name then
        settle_pieces(e, mb, errors.new{ kind = errors.is(cut.link) and
          cut.link.kind or "closed", command = cmds[k].what,
          mailbox = mb.name, text = "the link was lost before the server " ..
            "confirmed it; not sent again: " .. tostring(cut.link) })
      elseif not e.done then
        narrow(e, mb, cmds, k)
        back[#back + 1] = e
      end
    end
  end
  table.move(later, 1, #later, #back + 1, back)
  requeue(mb, back)
end

-- fail_all(entries, err): nothing of entries can be sent (the mailbox
-- cannot be selected, the account cannot connect): searches fail with
-- err where their sets are used, stores are reported against their rules.
local function fail_all(entries, err)
  for _, e in ipairs(entries) do
    if e.kind == "search" then
      local s = e.ref.set
      if s and rawget(s, "pending_") then msgset().settle(s, nil, err) end
    else fail(e, err) end
  end
end

local function lost(err)
  return errors.is(err, "closed") or errors.is(err, "bye") or
    errors.is(err, "timeout")
end

-- flight(mb, entries) -> the entries left for the next flight.
local function flight(mb, entries)
  local acct = mb.account
  local ok, box = pcall(mb.select_now, mb)
  if not ok then
    if lost(box) and not rawget(acct, "failed") then
      requeue(mb, entries)
      error(box, 0)
    end
    -- Reported once: against the rules, and where the sets are used.
    fail_all(entries, box)
    return {}
  end
  local c = acct:conn()
  local cmds, later = plan_flight(c, mb, box, entries)
  local fok, cut = pcall(run_flight, c, cmds, function(k, a, b)
    answer(mb, box, cmds, k, a, b)
  end)
  if not fok then
    if type(cut) ~= "table" or cut.link == nil then error(cut, 0) end
    after_cut(mb, cmds, cut, later)
    error(cut.link, 0)
  end
  return later
end

-- Once the command is stopping (SIGTERM) a queued flag change has not
-- started: it is refused, and said so against its rule.
local function refuse_stopped(entries)
  if not plan().should_stop() then return entries end
  local out = {}
  for _, e in ipairs(entries) do
    if e.kind == "store" then
      fail(e, errors.new{ kind = "stopped", command = "STORE " .. e.mode,
        text = "not started: stopping" })
    else out[#out + 1] = e end
  end
  return out
end

-- drain(mb): sends everything waiting on mb and reads every answer.
-- Raises the error of a lost link (what was not confirmed is reported or
-- queued again, see after_cut) or of a mailbox that cannot be selected.
-- Like Account:read, a flight cut by a lost link is tried once more on
-- a new link: only what may be sent again was queued again (after_cut).
function M.drain(mb)
  local entries, retried = take(mb), false
  while #entries > 0 do
    entries = refuse_stopped(entries)
    if #entries == 0 then return end
    local ok, res = pcall(flight, mb, entries)
    if ok then entries = res
    elseif retried or not lost(res) then error(res, 0)
    else
      retried = true
      local c = rawget(mb.account, "link")
      if c and c:state() ~= "LOGOUT" then c:shutdown() end
      entries = take(mb)
    end
  end
end

-- drain_account(acct): every mailbox of acct, in the order first asked.
function M.drain_account(acct)
  local per = queues[acct]
  if not per then return end
  for _, mb in ipairs(table.move(per.order, 1, #per.order, 1, {})) do
    M.drain(mb)
  end
end

-- drain_all(): every account.
function M.drain_all()
  local accts = {}
  for a in pairs(queues) do accts[#accts + 1] = a end
  for _, a in ipairs(accts) do M.drain_account(a) end
end

-- finish(): drain_all at the end of a script or run, where no rule is
-- left to fail: an error that escapes (a lost link, a mailbox that
-- cannot be selected) is reported with the rule outside any (nil) and
-- so reaches the run's exit status; what it left unsent is reported too.
function M.finish()
  local ok, err = pcall(M.drain_all)
  if not ok and errors.is(err) and lost(err) then
    ok, err = pcall(M.drain_all) -- reconnects; sends only what never went
  end
  if ok then return end
  plan().fail(nil, err)
  for a, per in pairs(queues) do
    queues[a] = nil
    for _, mb in ipairs(per.order) do fail_all(per[mb], err) end
  end
end

-- Reading the plan (entries, summary, errors) sends what is queued first.
plan().sync(M.finish)

return M
