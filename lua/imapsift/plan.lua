-- imapsift.plan: the record of what the rules did (or, in a dry run,
-- would do), the dry-run switch, named rules and the run's summary.

local errors = require "imapsift.error"
local set = require "imapsift.set"

local M = {}

local state = {
  dry = false,
  verbose = false,
  entries = {},
  rule = nil,     -- name of the rule running now
  failed = {},    -- { rule = name, error = err } of the rules that failed
  counts = {},    -- [rule name or ""] = { moved = n, ... }
  order = {},     -- rule names in the order they first ran
}

-- log(line): where every action line and rule error goes; replace it to
-- capture or redirect the record (default: standard error).
function M.log(line)
  io.stderr:write(line, "\n")
end

-- dry_run(on) -> whether dry run is on. With on = true every action is
-- planned, recorded and logged, and nothing that changes mail is sent.
function M.dry_run(on)
  if on ~= nil then state.dry = on and true or false end
  return state.dry
end

function M.is_dry() return state.dry end

-- verbose(on) -> whether log lines also list the Message-IDs involved
-- (when the action knows them).
function M.verbose(on)
  if on ~= nil then state.verbose = on and true or false end
  return state.verbose
end

function M.is_verbose() return state.verbose end

-- The interceptor a dry run installs on a connection: a second guard,
-- so that a mutating call that slips through sends nothing.
local function dry_guard(info)
  M.log(("dry run: not sending %s"):format(errors.escape(info.what or
    info.command or "?")))
  return true
end

-- guard(conn): while dry, make conn's mutating methods call an
-- interceptor instead of sending; when not dry, remove ours again (an
-- interceptor the user installed is left alone).
function M.guard(conn)
  if state.dry and not conn.intercept then
    conn.intercept = dry_guard
  elseif not state.dry and conn.intercept == dry_guard then
    conn.intercept = nil
  end
  return conn
end

local PAST = { move = "moved", copy = "copied", delete = "deleted",
  flag = "flagged", unflag = "unflagged", ["set flags"] = "set flags on" }

-- The counter an action adds to in the summary.
local COUNTER = { move = "moved", copy = "copied", delete = "deleted",
  flag = "flagged", unflag = "flagged", ["set flags"] = "flagged" }

-- The UIDs a text line shows: a run over a big mailbox would otherwise
-- write lines of hundreds of kilobytes. JSON lines keep every UID.
M.UID_TEXT_MAX = 200

local function uid_text(uids)
  if not uids or #uids == 0 then return "" end
  local s = set.compress(uids)
  if #s > M.UID_TEXT_MAX then
    s = (s:sub(1, M.UID_TEXT_MAX):match("^(.*),") or "") .. ",..."
  end
  return " (uids " .. s .. ")"
end

-- describe(entry) -> the one line logged for entry, e.g.
-- [news] me@host: would move 12 messages INBOX -> Archive/news (uids 3:9,14)
function M.describe(e)
  local verb = e.dry and ("would " .. e.action) or (PAST[e.action] or
    e.action)
  local what = ("%s %d message%s"):format(verb, e.count,
    e.count == 1 and "" or "s")
  local where = e.mailbox or "?"
  if e.destination then
    local dest = e.destination
    if e.destination_account and e.destination_account ~= e.account then
      dest = e.destination_account .. ":" .. dest
    end
    where = where .. " -> " .. dest
  end
  local flags = e.flags and (" " .. table.concat(e.flags, " ")) or ""
  local line = ("%s %s%s%s"):format(what, where, flags, uid_text(e.uids))
  if e.note then line = line .. ": " .. e.note end
  if state.verbose and e.message_ids and #e.message_ids > 0 then
    line = line .. " [" .. table.concat(e.message_ids, " ") .. "]"
  end
  local prefix = e.account and (e.account .. ": ") or ""
  if e.rule then prefix = "[" .. e.rule .. "] " .. prefix end
  return errors.escape(prefix .. line)
end

local function counts_of(name)
  local key = name or ""
  local c = state.counts[key]
  if not c then
    c = { rule = name, examined = 0, moved = 0, copied = 0, deleted = 0,
      flagged = 0, errors = 0 }
    state.counts[key] = c
    state.order[#state.order + 1] = key
  end
  return c
end

-- record(entry) -> entry: adds the running rule's name and whether this
-- was a dry run, keeps the entry, counts it and logs its line. entry:
-- { account, mailbox, action, uids, destination, count, flags, note }.
-- entry.rule false: outside any rule (a deferred action recorded later).
function M.record(entry)
  if entry.rule == false then entry.rule = nil
  else entry.rule = entry.rule or state.rule end
  if entry.dry == nil then entry.dry = state.dry end
  entry.count = entry.count or (entry.uids and #entry.uids) or 0
  state.entries[#state.entries + 1] = entry
  local c = counts_of(entry.rule)
  local counter = COUNTER[entry.action]
  if counter then c[counter] = c[counter] + entry.count end
  -- The log gets the entry too (a copy: entries() stays as recorded),
  -- so that a JSON log can carry its fields.
  local logged = { event = "action" }
  for k, v in pairs(entry) do logged[k] = v end
  M.log(M.describe(entry), logged)
  return entry
end

-- count(counter, n [, rule]): adds n to a counter of the running rule
-- (or of rule: a name, or false for none) that is not an action's, e.g.
-- count("examined", #uids) after a search.
function M.count(counter, n, rule)
  if type(counter) ~= "string" or math.type(n) ~= "integer" then
    errors.usage("count", "needs a counter name and an integer")
  end
  if rule == nil then rule = state.rule end
  local c = counts_of(rule or nil)
  c[counter] = (c[counter] or 0) + n
end

-- warn(text): a log line that is not an action (e.g. a server lacking
-- UIDPLUS leaves messages marked \Deleted), with the rule's name.
function M.warn(text)
  local prefix = state.rule and ("[" .. state.rule .. "] ") or ""
  M.log(errors.escape(prefix .. "warning: " .. text),
    { event = "warning", rule = state.rule, text = text })
end

-- Work left waiting (flag changes queued by imapsift.batch) is done
-- before the record is read, so that entries, counts and errors are
-- complete: sync(fn) adds such a step.
local syncs = {}
function M.sync(fn) syncs[#syncs + 1] = fn end
local function synced()
  for _, fn in ipairs(syncs) do fn() end
end

-- entries() -> a copy of the array of entries recorded since reset().
function M.entries()
  synced()
  return table.move(state.entries, 1, #state.entries, 1, {})
end

-- reset(): forget the entries and counts (dry run and verbose stay).
function M.reset()
  state.entries, state.counts, state.order = {}, {}, {}
  state.failed = {}
end

-- errors() -> array of { rule = name, error = err } of the rules that
-- failed since reset().
function M.errors()
  synced()
  return table.move(state.failed, 1, #state.failed, 1, {})
end

-- should_stop() -> true when the command is stopping (SIGTERM): rules
-- not yet started are skipped, actions not yet started refuse. The
-- command replaces it.
function M.should_stop() return false end

-- current() -> the name of the rule running now, or nil.
function M.current() return state.rule end

-- Work a rule leaves waiting (searches not yet sent: mailbox.lua) is done
-- before the rule ends, so that it counts and fails within the rule.
local at_end = {}
function M.at_rule_end(fn) at_end[#at_end + 1] = fn end

-- on_rule_error(fn): fn(rule_name, err) runs when a rule fails, e.g. to
-- forget what the rule meant to record as seen (state.lua).
local on_error = {}
function M.on_rule_error(fn)
  if type(fn) ~= "function" then
    errors.usage("on_rule_error", "bad argument #1 (function expected)")
  end
  on_error[#on_error + 1] = fn
end

local function rule_failed(name, err)
  for _, fn in ipairs(on_error) do fn(name, err) end
end

-- fail(name, err): counts, keeps and logs err as an error of the rule
-- name (nil: outside any rule) and tells on_rule_error. M.rule does this
-- for an error a rule raises; imapsift.batch for the failure of a flag
-- change a rule queued, found when the queue was sent.
function M.fail(name, err)
  counts_of(name).errors = counts_of(name).errors + 1
  state.failed[#state.failed + 1] = { rule = name, error = err }
  M.log(errors.escape(("[%s] error: %s"):format(name or "(no rule)",
    tostring(err))), { event = "rule_error", rule = name,
      error = tostring(err),
      account = type(err) == "table" and err.account or nil })
  if name then rule_failed(name, err) end
end

local function run_rule(fn)
  fn()
  for _, f in ipairs(at_end) do f() end
end

-- rule(name, fn) -> true, or false and the error: runs fn with name as
-- the current rule, so every entry and log line carries it. An error is
-- logged with the name and returned; the next rule still runs.
function M.rule(name, fn)
  if type(name) ~= "string" or name == "" then
    errors.usage("rule", "bad argument #1 (a rule name expected)")
  end
  if type(fn) ~= "function" then
    errors.usage("rule", "bad argument #2 (function expected, got %s)",
      type(fn))
  end
  if M.should_stop() then
    M.log(errors.escape(("[%s] skipped: stopping"):format(name)),
      { event = "warning", rule = name, text = "skipped: stopping" })
    return false, "stopping"
  end
  local outer = state.rule
  state.rule = name
  counts_of(name)
  local ok, err = pcall(run_rule, fn)
  state.rule = outer
  if not ok then
    M.fail(name, err)
    return false, err
  end
  return true
end

-- summary() -> array of { rule, examined, moved, copied, deleted,
-- flagged, errors }
-- in the order the rules ran (rule = nil for actions outside any rule),
-- and the same as lines of text.
function M.summary()
  synced()
  local out, lines = {}, {}
  for _, key in ipairs(state.order) do
    local c = state.counts[key]
    local copy = {}
    for k, v in pairs(c) do copy[k] = v end
    out[#out + 1] = copy
    lines[#lines + 1] = ("%s: %d examined, %d moved, %d copied, " ..
      "%d deleted, %d flagged, %d errors%s"):format(c.rule or "(no rule)",
      c.examined, c.moved, c.copied, c.deleted, c.flagged, c.errors,
      state.dry and " (dry run: planned, not done)" or "")
  end
  return out, table.concat(lines, "\n")
end

return M
