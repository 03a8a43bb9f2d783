-- imapsift.actions: what rules do to message sets, done so that no mail
-- is lost: MOVE/COPY within an account (RFC 6851, RFC 4315 UID EXPUNGE of
-- exactly the UIDs acted on), APPENDs confirmed before the source goes
-- across accounts, flag changes; each recorded in imapsift.plan, and
-- only planned, never sent, in a dry run.

local errors = require "imapsift.error"
local plan = require "imapsift.plan"
local argforms = require "imapsift.args"

local M = {}

local function queue() return require "imapsift.batch" end
local function msgset() return require "imapsift.msgset" end

-- Message-IDs are read BATCH messages per FETCH, and looked for in the
-- destination GROUP at a time (OR-ed HEADER keys keep each line short).
local BATCH = 200
local GROUP = 20

local ID_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"

local function q(s) return '"' .. tostring(s) .. '"' end

-- Once the command is stopping (SIGTERM), an action not yet started is
-- refused, so the run ends soon after the one in progress.
local function check_stop(what)
  if plan.should_stop() then
    errors.raise{ kind = "stopped", command = what,
      text = "not started: stopping" }
  end
end

-- The non-empty parts of set: { mailbox, uidvalidity, uids }.
local function parts_of(set, what)
  if type(set) ~= "table" or type(set.parts) ~= "function" then
    errors.usage(what, "bad argument #1 (a message set expected, got %s)",
      type(set))
  end
  local out = {}
  for _, p in ipairs(set:parts()) do
    if #p.uids > 0 then out[#out + 1] = p end
  end
  return out
end

-- The destination Mailbox: a Mailbox, or a name in the part's account.
local function destination(part, dest, what)
  if type(dest) == "string" then
    return part.mailbox.account:mailbox(dest)
  end
  if type(dest) ~= "table" or type(rawget(dest, "name")) ~= "string" or
      rawget(dest, "account") == nil then
    errors.usage(what, "bad argument #2 (a mailbox or its name expected)")
  end
  return dest
end

local function entry(part, action, dest)
  local e = { account = part.mailbox.account.name,
    mailbox = part.mailbox.name, action = action,
    uids = table.move(part.uids, 1, #part.uids, 1, {}) }
  if dest then
    e.destination = dest.name
    if dest.account ~= part.mailbox.account then
      e.destination_account = dest.account.name
    end
  end
  return e
end

local function add_note(e, text)
  e.note = e.note and (e.note .. "; " .. text) or text
end

-- The error for a destination that does not exist and may not be made.
local function missing_error(dest, what)
  errors.raise{ kind = "no", code = "TRYCREATE", command = what,
    mailbox = dest.name, account = dest.account.name,
    text = ("mailbox %s does not exist on account %s (give the account " ..
      "create = true to create it)"):format(q(dest.name), dest.account.name) }
end

-- Creates dest when its account allows it, else raises naming it.
local function create_or_raise(dest, what)
  if not dest.account.create then missing_error(dest, what) end
  dest:create()
end

-- with_create(dest, what, fn) -> fn(): on NO [TRYCREATE] creates dest
-- (or raises naming it) and runs fn once more. Only for commands that
-- change nothing when they fail that way (COPY, MOVE, APPEND).
local function with_create(dest, what, fn)
  local ok, res = pcall(fn)
  if ok then return res end
  if errors.is(res, "no") and res.code == "TRYCREATE" then
    create_or_raise(dest, what)
    return fn()
  end
  error(res, 0)
end

-- Whether dest exists (a read, so a dry run may ask too). LIST takes
-- the name as a pattern (* and % are wildcards): only an exact name counts.
local function exists(dest)
  return dest.account:read(function(c)
    for _, mb in ipairs(c:list("", dest.name)) do
      if mb.name == dest.name then return true end
    end
    return false
  end)
end

-- In a dry run a missing destination is reported as the real run would
-- meet it: planned creation, or the same error.
local function check_dest_dry(dest, e, what)
  if exists(dest) then return end
  if not dest.account.create then missing_error(dest, what) end
  add_note(e, "would create " .. dest.name)
end

-- Message-ID of a header block (unfolded; the first <...> of the field).
local function message_id(block)
  if type(block) ~= "string" then return nil end
  block = block:gsub("\r?\n[ \t]+", " ")
  for line in block:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "message-id" and value ~= "" then
      return value:match("<[^>]*>") or value
    end
  end
  return nil
end

local function header_block(m)
  for k, v in pairs(m.body or {}) do
    if type(k) == "string" and k:upper():find("^HEADER%.FIELDS") then
      return v
    end
  end
  return nil
end

local function chunks(list, n)
  local out = {}
  for i = 1, #list, n do out[#out + 1] = table.move(list, i,
    math.min(i + n - 1, #list), 1, {}) end
  return out
end

-- ids_of(account, uids [, sizes]) -> { [uid] = Message-ID } of the
-- selected mailbox's messages that have one, BATCH per FETCH; given a
-- table sizes, the same FETCH fills it with { [uid] = RFC822.SIZE }.
local function ids_of(account, uids, sizes)
  local ids = {}
  local items = sizes and { "UID", "RFC822.SIZE", ID_ITEM } or
    { "UID", ID_ITEM }
  for _, batch in ipairs(chunks(uids, BATCH)) do
    account:read(function(c)
      c:fetch(batch, items, { each = function(m)
        ids[m.uid] = message_id(header_block(m))
        if sizes then sizes[m.uid] = m.size end
      end })
    end)
  end
  return ids
end

local function id_list(ids, uids)
  local out = {}
  for _, uid in ipairs(uids) do out[#out + 1] = ids[uid] end
  return out
end

-- OR-ed HEADER Message-ID keys: OR k1 OR k2 k3 (RFC 9051 6.4.4).
local function any_id(group)
  local keys = {}
  for i, id in ipairs(group) do
    if i < #group then keys[#keys + 1] = "OR" end
    keys[#keys + 1] = "HEADER"
    keys[#keys + 1] = "Message-ID"
    keys[#keys + 1] = id
  end
  return keys
end

-- present(dest, ids) -> { [Message-ID] = true } for those of ids already
-- in dest (selected): its searches (GROUP Message-IDs each) pipelined
-- with search_many, one round trip for them all. HEADER search matches
-- substrings, so the found messages' own Message-IDs (one FETCH per
-- BATCH) decide.
local function present(dest, ids)
  local groups = {}
  for i, g in ipairs(chunks(ids, GROUP)) do groups[i] = any_id(g) end
  if #groups == 0 then return {} end
  local uids = dest.account:read(function(c)
    local results, failures = c:search_many(groups)
    local _, err = next(failures)
    if err then error(err, 0) end
    local all = {}
    for _, r in pairs(results) do table.move(r, 1, #r, #all + 1, all) end
    return all
  end)
  table.sort(uids)
  local found = {}
  for _, id in pairs(ids_of(dest.account, uids)) do found[id] = true end
  return found
end

local function strip_recent(flags)
  local out = {}
  for _, f in ipairs(flags or {}) do
    if f:lower() ~= "\\recent" then out[#out + 1] = f end
  end
  return out
end

-- append_one(src, dest, uid, what) -> APPEND's result, or nil when the
-- message is gone: fetched alone, so memory is bound by one message;
-- appended with its flags (less \Recent) and internal date.
local function append_one(src, dest, uid, what)
  local m = src.account:read(function(c)
    return c:fetch(uid, { "BODY.PEEK[]", "FLAGS", "INTERNALDATE" })[1]
  end)
  if not (m and m.body and m.body[""]) then return nil end
  return with_create(dest, what, function()
    return dest.account:conn():append(dest.name, m.body[""],
      { flags = strip_recent(m.flags), date = m.internaldate })
  end)
end

-- copy_one(src, dest, uid, id) -> whether the copy is confirmed, by
-- APPENDUID or by finding its Message-ID in dest; without either (no
-- UIDPLUS and no Message-ID) it stays unconfirmed.
local function copy_one(src, dest, uid, id, what)
  local r = append_one(src, dest, uid, what)
  if r == nil then return false end
  if type(r) == "table" and r.uid then return true end
  if not id then return false end
  dest:select(true)
  return next(present(dest, { id })) ~= nil
end

-- A transfer across accounts reads the source in batches of at most
-- XFER.count messages and XFER.bytes of RFC822.SIZE (a bigger message
-- goes alone), so memory is bound by one batch, and appends each batch
-- with append_many (MULTIAPPEND, or pipelined APPENDs).
local XFER = { count = 200, bytes = 8 * 1024 * 1024 }

-- Whether dest's server takes a batch without a round trip per message:
-- MULTIAPPEND (RFC 3502) or non-synchronizing literals (RFC 7888).
-- Elsewhere each APPEND's literal waits for its "+" anyway, and the
-- transfer keeps to one message at a time (append_one).
local function batched(dest)
  local caps = dest.account:conn().capabilities
  return caps.MULTIAPPEND or caps["LITERAL+"] or caps["LITERAL-"] or false
end

-- batches(uids, sizes) -> arrays of UIDs within XFER's bounds, in order.
local function batches(uids, sizes)
  local out, cur, bytes = {}, nil, 0
  for _, uid in ipairs(uids) do
    local n = sizes[uid] or 0
    if not cur or #cur >= XFER.count or
        (#cur > 0 and bytes + n > XFER.bytes) then
      cur, bytes = {}, 0
      out[#out + 1] = cur
    end
    cur[#cur + 1], bytes = uid, bytes + n
  end
  return out
end

-- read_batch(src, uids) -> array of { uid, message, flags, date } in the
-- order of uids, with one FETCH; a message gone from src is left out.
local function read_batch(src, uids)
  local got = {}
  src.account:read(function(c)
    got = {}
    for _, m in ipairs(c:fetch(uids, { "BODY.PEEK[]", "FLAGS",
        "INTERNALDATE" })) do
      got[m.uid] = m
    end
  end)
  local out = {}
  for _, uid in ipairs(uids) do
    local m = got[uid]
    if m and m.body and m.body[""] then
      out[#out + 1] = { uid = uid, message = m.body[""],
        flags = strip_recent(m.flags), date = m.internaldate }
    end
  end
  return out
end

-- append_batch(dest, msgs, what) -> results, err: append_many's result
-- for each message appended, from the first on, and the error that
-- stopped the rest (nil when all went in). On TRYCREATE dest is created
-- and only the messages not yet in are sent again.
local function append_batch(dest, msgs, what)
  local results = {}
  local function rest()
    local conn = dest.account:conn()
    local ok, r = pcall(conn.append_many, conn, dest.name,
      table.move(msgs, #results + 1, #msgs, 1, {}))
    if ok then
      table.move(r, 1, #r, #results + 1, results)
      return
    end
    if errors.is(r) and math.type(r.appended) == "integer" then
      table.move(r.results, 1, r.appended, #results + 1, results)
    end
    error(r, 0)
  end
  local ok, err = pcall(with_create, dest, what, rest)
  return results, not ok and err or nil
end

-- confirm(dest, msgs, results, ids) -> UIDs of the appended msgs that are
-- confirmed: by APPENDUID, or else by their Message-IDs, looked for in
-- dest all together (a message with neither stays unconfirmed).
local function confirm(dest, msgs, results, ids)
  local out, ask, asked = {}, {}, {}
  for i, r in ipairs(results) do
    local uid = msgs[i].uid
    if type(r) == "table" and r.uid then
      out[#out + 1] = uid
    elseif ids[uid] then
      ask[#ask + 1], asked[#asked + 1] = ids[uid], uid
    end
  end
  if #ask == 0 then return out end
  dest:select(true)
  local found = present(dest, ask)
  for _, uid in ipairs(asked) do
    if found[ids[uid]] then out[#out + 1] = uid end
  end
  return out
end

local function progress(kind, done, total)
  local hook = require("imapsift.connection").on_progress
  if hook then hook(kind:upper(), done, total) end
end

-- Appends uids of x.part to x.dest batch by batch, adding the confirmed
-- ones to t.confirmed. An error stops it once the messages appended
-- before it are confirmed (those left in flight are not), and is raised;
-- so does a stop (SIGTERM) between two batches.
local function transfer_batches(x, uids, t)
  local total = #x.part.uids
  local done = total - #uids
  for _, b in ipairs(batches(uids, x.sizes)) do
    if done > total - #uids and plan.should_stop() then
      errors.raise{ kind = "stopped", command = x.what,
        mailbox = x.part.mailbox.name, text = ("stopping: %d of %d " ..
          "done, the rest stays in the source"):format(done, total) }
    end
    local msgs = read_batch(x.part.mailbox, b)
    local results, err = {}, nil
    if #msgs > 0 then results, err = append_batch(x.dest, msgs, x.what) end
    local ok, got = pcall(confirm, x.dest, msgs, results, x.ids)
    if ok then table.move(got, 1, #got, #t.confirmed + 1, t.confirmed) end
    if err or not ok then error(err or got, 0) end
    done = done + #b
    progress(x.kind, done, total)
  end
end

-- Marks uids \Deleted in the (selected) source and UID EXPUNGEs exactly
-- them; without UIDPLUS they stay marked, and the entry says so.
local function remove(part, uids, e)
  local c = part.mailbox.account:conn()
  c:store(uids, "+FLAGS", { "\\Deleted" }, { silent = true })
  if c.capabilities.UIDPLUS then
    c:expunge(uids)
  else
    local note = "left marked \\Deleted: the server lacks UIDPLUS, and " ..
      "a plain EXPUNGE would also remove other deleted mail"
    add_note(e, note)
    plan.warn(note)
  end
end

-- The note a planned same-account move carries on a server with neither
-- MOVE nor UIDPLUS: it would be copied, marked \Deleted, not expunged.
local NO_EXPUNGE = "left marked \\Deleted in the source: the server " ..
  "lacks MOVE and UIDPLUS, and a plain EXPUNGE would also remove other " ..
  "deleted mail"

local function verbose_ids(part, e)
  if plan.is_verbose() then
    e.message_ids = id_list(ids_of(part.mailbox.account, part.uids),
      part.uids)
  end
end

-- A move on a server without MOVE: COPY, then \Deleted and UID EXPUNGE
-- of exactly those UIDs. Idempotent like a move across accounts: a run
-- cut after its COPY and run again finds the Message-IDs already in dest
-- and copies only the others, so nothing is there twice (messages without
-- a Message-ID cannot be recognised and are copied again). A COPY that
-- completed copied every message (RFC 9051 6.4.7: all or none).
local function move_by_copy(part, dest, e, what)
  local acct = part.mailbox.account
  local ids = ids_of(acct, part.uids)
  local wanted, found = id_list(ids, part.uids), {}
  if #wanted > 0 and exists(dest) then
    dest:select(true)
    found = present(dest, wanted)
    part.mailbox:ensure(part.uidvalidity)
  end
  local copy, done = {}, {}
  for _, uid in ipairs(part.uids) do
    local there = ids[uid] and found[ids[uid]]
    if there then done[#done + 1] = uid else copy[#copy + 1] = uid end
  end
  if #copy > 0 then
    with_create(dest, what, function()
      return acct:conn():copy(copy, dest.name)
    end)
    table.move(copy, 1, #copy, #done + 1, done)
    table.sort(done)
  end
  e.skipped = #part.uids - #copy
  remove(part, done, e)
end

-- A move or copy within one account: the connection splits long sets;
-- a MOVE-less server gets move_by_copy.
local function same_account(kind, part, dest, what)
  local conn = part.mailbox.account:conn()
  part.mailbox:ensure(part.uidvalidity)
  local e = entry(part, kind, dest)
  verbose_ids(part, e)
  local caps = conn.capabilities
  if plan.is_dry() then
    if kind == "move" and not caps.MOVE and not caps.UIDPLUS then
      e.note = NO_EXPUNGE
    end
    check_dest_dry(dest, e, what)
    return plan.record(e)
  end
  if kind == "move" and not caps.MOVE then
    move_by_copy(part, dest, e, what)
    return plan.record(e)
  end
  with_create(dest, what, function()
    if kind == "copy" then return conn:copy(part.uids, dest.name) end
    return conn:move(part.uids, dest.name)
  end)
  return plan.record(e)
end

-- Copies what dest lacks of part (in batches, or one message at a time
-- on a server without MULTIAPPEND or LITERAL+/-), filling t: confirmed =
-- the UIDs present before or appended and confirmed, skipped = how many
-- were there before. An error is raised with t holding what was done.
-- x: { kind, part, dest, ids, sizes (nil: one at a time), what }.
local function transfer(x, t)
  local part, dest, ids = x.part, x.dest, x.ids
  dest:select(true)
  local found = present(dest, id_list(ids, part.uids))
  local todo = {}
  for _, uid in ipairs(part.uids) do
    local id = ids[uid]
    if id and found[id] then
      t.confirmed[#t.confirmed + 1] = uid
      t.skipped = t.skipped + 1
    else
      todo[#todo + 1] = uid
    end
  end
  if x.sizes then return transfer_batches(x, todo, t) end
  for _, uid in ipairs(todo) do
    if copy_one(part.mailbox, dest, uid, ids[uid], x.what) then
      t.confirmed[#t.confirmed + 1] = uid
    end
  end
end

-- Records what t confirmed and, on a move, takes exactly that from the
-- source. failed: the transfer stopped on an error (raised after this).
local function settle(x, e, t, failed)
  local part, confirmed = x.part, t.confirmed
  table.sort(confirmed)
  e.uids, e.count, e.skipped = confirmed, #confirmed, t.skipped
  e.message_ids = id_list(x.ids, confirmed)
  local left = #part.uids - #confirmed
  if failed then
    add_note(e, ("stopped by an error: %d left in the source"):format(left))
  elseif left > 0 then
    add_note(e, ("%d not confirmed, left in the source"):format(left))
    plan.warn(("%d messages in %s could not be confirmed in %s: " ..
      "left in the source"):format(left, part.mailbox.name, x.dest.name))
  end
  if x.kind == "move" and #confirmed > 0 then
    part.mailbox:ensure(part.uidvalidity)
    remove(part, confirmed, e)
  end
  return plan.record(e)
end

-- A move or copy to another account. Idempotent: Message-IDs already in
-- dest are not copied again, and only confirmed copies leave the source,
-- also when an error stops the transfer (the error is raised after).
local function cross_account(kind, part, dest, what)
  part.mailbox:ensure(part.uidvalidity)
  local e = entry(part, kind, dest)
  if plan.is_dry() then
    verbose_ids(part, e)
    check_dest_dry(dest, e, what)
    return plan.record(e)
  end
  if not exists(dest) then create_or_raise(dest, what) end
  local x = { kind = kind, part = part, dest = dest, what = what,
    sizes = batched(dest) and {} or nil }
  x.ids = ids_of(part.mailbox.account, part.uids, x.sizes)
  local t = { confirmed = {}, skipped = 0 }
  local ok, err = pcall(transfer, x, t)
  if ok then return settle(x, e, t, false) end
  if #t.confirmed > 0 then pcall(settle, x, e, t, true) end
  error(err, 0)
end

local function transfer_set(kind, set, dest)
  local what = kind:upper() .. " to " .. q(type(dest) == "table" and
    rawget(dest, "name") or dest)
  check_stop(what)
  local n = 0
  for _, part in ipairs(parts_of(set, what)) do
    local d = destination(part, dest, what)
    local e
    if d.account == part.mailbox.account then
      e = same_account(kind, part, d, what)
    else
      e = cross_account(kind, part, d, what)
    end
    n = n + e.count
  end
  return n
end

-- move(set, dest) -> number of messages moved (planned in a dry run).
-- dest: a Mailbox (of any account) or a mailbox name in the set's own.
function M.move(set, dest) return transfer_set("move", set, dest) end

-- copy(set, dest) -> number of messages copied (or planned).
function M.copy(set, dest) return transfer_set("copy", set, dest) end

-- delete(set) -> number of messages deleted: \Deleted, then UID EXPUNGE
-- of exactly those (a server without UIDPLUS leaves them marked).
function M.delete(set)
  check_stop("delete")
  local n = 0
  for _, part in ipairs(parts_of(set, "delete")) do
    part.mailbox:ensure(part.uidvalidity)
    local e = entry(part, "delete")
    verbose_ids(part, e)
    if plan.is_dry() then
      if not part.mailbox.account:conn().capabilities.UIDPLUS then
        add_note(e, "would be left marked \\Deleted: the server lacks UIDPLUS")
      end
    else
      remove(part, part.uids, e)
    end
    n = n + plan.record(e).count
  end
  return n
end

local MODES = { ["+"] = "+FLAGS", add = "+FLAGS", ["+FLAGS"] = "+FLAGS",
  ["-"] = "-FLAGS", remove = "-FLAGS", ["-FLAGS"] = "-FLAGS",
  ["="] = "FLAGS", replace = "FLAGS", FLAGS = "FLAGS" }
local ACTION = { ["+FLAGS"] = "flag", ["-FLAGS"] = "unflag",
  FLAGS = "set flags" }

-- The flag change done now: each part selected (UIDVALIDITY checked),
-- recorded, and sent unless dry.
local function store_now(set, m, flags)
  for _, part in ipairs(parts_of(set, "STORE " .. m)) do
    local conn = part.mailbox.account:conn()
    part.mailbox:ensure(part.uidvalidity)
    local e = entry(part, ACTION[m])
    e.flags = flags
    verbose_ids(part, e)
    if not plan.is_dry() then
      conn:store(part.uids, m, flags, { silent = true })
    end
    plan.record(e)
  end
end

-- store(set, mode, flags) -> set (chainable). mode: "+FLAGS" (or "add",
-- "+"), "-FLAGS" ("remove", "-") or "FLAGS" ("replace", "="); flags: a
-- flag or an array of them, checked before anything is queued. A real
-- run queues the change (imapsift.batch: sent with the set's search, or
-- at the next sync point) and records it when the server confirms it;
-- a dry run, or a verbose one (it lists Message-IDs), plans or does it
-- at once. The number of messages is in the plan entry.
function M.store(set, mode, flags)
  local m = MODES[type(mode) == "string" and (MODES[mode] and mode or
    mode:upper()) or ""]
  if not m then
    errors.usage("store", "bad argument #2 (+FLAGS, -FLAGS or FLAGS " ..
      "expected, got %s)", tostring(mode))
  end
  if type(flags) == "string" then flags = { flags } end
  flags = argforms.flags(flags, "flags", "STORE " .. m)
  check_stop("STORE " .. m)
  if not (plan.is_dry() or plan.is_verbose()) and msgset().is(set) and
      queue().queue_store(set, m, flags) then
    return set
  end
  store_now(set, m, flags)
  return set
end

function M.flag(set, f) return M.store(set, "+FLAGS", f) end
function M.unflag(set, f) return M.store(set, "-FLAGS", f) end
function M.mark_seen(set) return M.store(set, "+FLAGS", "\\Seen") end
function M.mark_unseen(set) return M.store(set, "-FLAGS", "\\Seen") end
function M.add_keyword(set, k) return M.store(set, "+FLAGS", k) end
function M.remove_keyword(set, k) return M.store(set, "-FLAGS", k) end

return M
