-- imapsift.commands: imaplib's commands as methods of the connection
-- object, each returning parsed Lua values. Message sets are UIDs unless
-- opts.seq is true; long sets are split over several commands and the
-- results merged. RFC 3501 / RFC 9051 section 6, RFC 4315 (UIDPLUS),
-- RFC 6851 (MOVE), RFC 4731 (ESEARCH), RFC 2342 (NAMESPACE), RFC 2971
-- (ID), RFC 5161 (ENABLE), RFC 3691 (UNSELECT), RFC 7162 (CONDSTORE).

local core = require "imapsift.core"
local errors = require "imapsift.error"
local set = require "imapsift.set"
local search = require "imapsift.search"
local argforms = require "imapsift.args"
local internaldate = require "imapsift.internaldate"
local connection = require "imapsift.connection"
local Connection = connection.Connection

local usage = errors.usage

local function q(name) return '"' .. errors.escape(name) .. '"' end

local function mbox(name, command)
  if type(name) ~= "string" or name == "" then
    usage(command, "mailbox name must be a non-empty string")
  end
  return { mailbox = name }
end

-- Mailbox names from the server: modified UTF-7 unless UTF8=ACCEPT.
function Connection:decode_name(s)
  if self.utf8 or s == nil then return s end
  return core.mutf7_decode(s) or s
end

-- Expands a message set the server sent (COPYUID, APPENDUID, ESEARCH)
-- in reply to the command whose data is data: every set of one command
-- counts against one cap on UIDs (limits.max_uids). One that cannot be
-- expanded ("*", too large) is the server's fault.
local function expand(s, what, data)
  local room = connection.uid_room(data)
  local ok, list = pcall(set.expand, s, room)
  if not ok and tostring(list):find("too large", 1, true) then
    errors.raise{ kind = "limit", command = what,
      text = ("server sent more than %d UIDs for one command " ..
        "(limits.max_uids)"):format(connection.limit_of(data, "max_uids")) }
  elseif not ok then
    errors.raise{ kind = "protocol", command = what,
      text = "server sent an unusable message set: " .. tostring(s) }
  end
  connection.count_uids(data, #list, what)
  return list
end

local function data_of(list, typ)
  local out = {}
  for _, r in ipairs(list) do
    if r.type == typ then out[#out + 1] = r end
  end
  return out
end

-- The whole message set as one string: what an interceptor is shown of
-- a set that a real run may split over several commands.
local function whole(msgset)
  return set.split(msgset, math.maxinteger)[1]
end

-- Runs name over a message set, split to keep each line short, the
-- pieces pipelined; calls build(piece) for the arguments. Returns the
-- untagged data of all runs, the last completion, the sequence
-- numbers expunged meanwhile, and the UIDs of VANISHED (after ENABLE
-- QRESYNC, RFC 7162 3.2.7).
function Connection:run_set(name, msgset, build, what, opts, mutating)
  opts = opts or {}
  local full = opts.seq and name or ("UID " .. name)
  local pieces = set.split(msgset, self.max_line - 200)
  local all, gone, last, uids_gone = nil, {}, nil, {}
  local function merge(_, tagged, data)
    last = tagged
    -- The first piece's array is taken as it is: a one-piece FETCH of
    -- 100k messages keeps no second array of them.
    if all == nil and data then all = data
    elseif data then table.move(data, 1, #data, #all + 1, all) end
    local ex = data and data.expunged or {}
    table.move(ex, 1, #ex, #gone + 1, gone)
    local va = data and data.vanished or {}
    table.move(va, 1, #va, #uids_gone + 1, uids_gone)
  end
  if mutating and self.intercept then
    for i, piece in ipairs(pieces) do
      merge(i, self:mutate(full, build(piece), what, opts.each))
    end
  else
    self:run_window(#pieces, function(i)
      return full, build(pieces[i]), what
    end, merge, opts.each)
  end
  all = all or {}
  for k in pairs(all) do -- the piece's own fields (expunged, exists, ...)
    if math.type(k) ~= "integer" then all[k] = nil end
  end
  return all, last, gone, uids_gone
end

---------------------------------------------------------------------------
-- Any state

function Connection:capability()
  local _, data = self:run("CAPABILITY", nil, "CAPABILITY")
  local caps = data_of(data, "CAPABILITY")
  if #caps == 0 then
    errors.raise{ kind = "protocol", command = "CAPABILITY",
      text = "server sent no CAPABILITY response" }
  end
  return self.capabilities
end

function Connection:noop()
  local _, data = self:run("NOOP", nil, "NOOP")
  return data
end

function Connection:logout()
  if self.conn == nil then return end
  self.logging_out = true
  local ok, err = pcall(self.run, self, "LOGOUT", nil, "LOGOUT")
  self:shutdown()
  if not ok and not (errors.is(err) and
      (err.kind == "closed" or err.kind == "bye")) then
    error(err, 0)
  end
  return true
end

-- id([params]) -> the server's ID fields as a table (RFC 2971); params
-- is a table of the client's fields, none sends NIL.
function Connection:id(params)
  local arg = "NIL"
  if params and next(params) then
    arg = {}
    for k, v in pairs(params) do
      arg[#arg + 1] = { qstr = tostring(k) }
      arg[#arg + 1] = { qstr = tostring(v) }
    end
  end
  local _, data = self:run("ID", { arg }, "ID")
  local r = data_of(data, "ID")[1]
  return r and r.params or {}
end

---------------------------------------------------------------------------
-- Not authenticated: login, authenticate and login_cram_md5 are in
-- auth.lua.

---------------------------------------------------------------------------
-- Authenticated

local function parse_select(self, name, data, tagged, readonly)
  local box = { name = name, flags = {}, permanentflags = {},
    readonly = readonly }
  self.mailbox = box
  -- EXISTS and RECENT are folded into the intake (data.exists/recent).
  box.exists, box.recent = data.exists, data.recent
  for _, r in ipairs(data) do
    if r.type == "FLAGS" then box.flags = r.flags
    elseif r.code and r.code.name ~= "ALERT" then
      self:absorb_code(r) -- again, for the new box; alerts were shown
    end
  end
  local code = tagged.code and tagged.code.name
  if code == "READ-ONLY" then box.readonly = true
  elseif code == "READ-WRITE" then box.readonly = false end
  box.exists = box.exists or 0
  return box
end

-- The QRESYNC select parameter (RFC 7162 3.2.5): { uidvalidity, modseq
-- [, known = a UID set string] }; it needs ENABLE QRESYNC first.
local function qresync_param(self, p, what)
  if type(p) ~= "table" or math.type(p.uidvalidity) ~= "integer" or
      math.type(p.modseq) ~= "integer" or p.modseq < 1 then
    usage(what, "opts.qresync needs integer uidvalidity and modseq")
  end
  if not (self.enabled_caps or {}).QRESYNC then
    usage(what, "QRESYNC is not enabled (enable(\"QRESYNC\") first)")
  end
  local list = { p.uidvalidity, p.modseq }
  if p.known then list[3] = argforms.seqset(p.known) end
  return { "QRESYNC", list }
end

-- The UIDs of the FETCH responses a QRESYNC select brings (changed
-- since the modseq; RFC 7162 3.2.5.2), capped like any server set. What
-- came before OK [CLOSED] was about the mailbox left (RFC 7162 3.2.11).
local function fetched_uids(self, out, what)
  local max = self:limit("max_uids")
  return function(r)
    if r.code and r.code.name == "CLOSED" then
      for i = #out, 1, -1 do out[i] = nil end
    elseif r.type == "FETCH" and math.type(r.uid) == "integer" then
      if #out >= max then
        errors.raise{ kind = "limit", command = what, text = ("server " ..
          "sent more than %d UIDs for one command (limits.max_uids)")
          :format(max) }
      end
      out[#out + 1] = r.uid
    end
  end
end

-- select(name [, opts]) -> mailbox table; opts.readonly uses EXAMINE,
-- opts.condstore asks for CONDSTORE (RFC 7162), opts.qresync (see
-- qresync_param) for what changed since: box.changed holds the UIDs of
-- the FETCH responses, box.vanished those of VANISHED (EARLIER).
function Connection:select(name, opts)
  opts = opts or {}
  local cmd = opts.readonly and "EXAMINE" or "SELECT"
  local what = cmd .. " " .. q(tostring(name))
  local args = { mbox(name, what) }
  if opts.condstore then args[2] = { "CONDSTORE" } end
  local changed = opts.qresync and {}
  if changed then args[2] = qresync_param(self, opts.qresync, what) end
  self.mailbox = { name = name, readonly = opts.readonly and true or false }
  local ok, tagged, data = pcall(self.run, self, cmd, args, what,
    changed and fetched_uids(self, changed, what))
  if not ok then self.mailbox = nil; error(tagged, 0) end
  local box = parse_select(self, name, data, tagged,
    opts.readonly and true or false)
  -- for reconnect(); QRESYNC implies CONDSTORE (RFC 7162 3.2.3)
  box.condstore = (opts.condstore or changed) and true or nil
  if changed then
    box.changed, box.vanished = changed, data.vanished_earlier or {}
  end
  return box
end

function Connection:examine(name)
  return self:select(name, { readonly = true })
end

local function simple(cmdname)
  return function(self, name)
    local what = cmdname .. " " .. q(tostring(name))
    local args = { mbox(name, what) }
    if self.intercept then
      return self:intercepted{ command = cmdname, mailbox = name,
        name = name, args = args, what = what }
    end
    self:mutate(cmdname, args, what)
    return true
  end
end

Connection.create = simple("CREATE")
Connection.delete = simple("DELETE")
Connection.subscribe = simple("SUBSCRIBE")
Connection.unsubscribe = simple("UNSUBSCRIBE")

function Connection:rename(old, new)
  local what = "RENAME " .. q(tostring(old)) .. " to " .. q(tostring(new))
  local args = { mbox(old, what), mbox(new, what) }
  if self.intercept then
    return self:intercepted{ command = "RENAME", mailbox = old, name = old,
      destination = new, args = args, what = what }
  end
  self:mutate("RENAME", args, what)
  return true
end

local function list_cmd(self, cmd, ref, pattern)
  ref, pattern = ref or "", pattern or "*"
  local what = cmd .. " " .. q(ref) .. " " .. q(pattern)
  local refarg = ref == "" and { qstr = "" } or { mailbox = ref }
  local _, data = self:run(cmd, { refarg, { mailbox = pattern } }, what)
  local out = {}
  for _, r in ipairs(data_of(data, cmd)) do
    out[#out + 1] = { name = self:decode_name(r.name),
      delimiter = r.delimiter, flags = r.flags, ext = r.ext }
  end
  return out
end

function Connection:list(ref, pattern) return list_cmd(self, "LIST", ref, pattern) end
function Connection:lsub(ref, pattern) return list_cmd(self, "LSUB", ref, pattern) end

local STATUS_ITEMS = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN" }

-- status(name [, items]) -> { messages = n, ... } (lower-case keys)
function Connection:status(name, items)
  local what = "STATUS " .. q(tostring(name))
  local list = argforms.status_items(items or STATUS_ITEMS, what)
  local _, data = self:run("STATUS", { mbox(name, what), list }, what)
  local r = data_of(data, "STATUS")[1]
  return r and r.items or {}
end

-- Whether the header of message (up to the first empty line) has 8-bit
-- bytes, which only RFC 6855's UTF8 form of APPEND may carry.
local function eightbit_header(message)
  local head = message:match("^(.-\n)\r?\n") or message
  return head:find("[\128-\255]") ~= nil
end

-- message_args(args, m, what) -> args with what one message adds to
-- APPEND: [flag list] [date] literal (RFC 3502 repeats these per message
-- of a MULTIAPPEND), and the INTERNALDATE string sent. m: { message,
-- flags, date } (date: an INTERNALDATE string or epoch seconds).
function Connection:message_args(args, m, what)
  if m.flags then
    args[#args + 1] = argforms.flag_list(argforms.flags(m.flags,
      "flags", what))
  end
  local date = m.date
  if math.type(date) == "integer" then date = internaldate.format(date) end
  if date then args[#args + 1] = { qstr = date } end
  if self.utf8 and eightbit_header(m.message) then
    -- RFC 6855 3: after ENABLE UTF8=ACCEPT, 8-bit header fields go in
    -- the UTF8 data item as literal8.
    args[#args + 1] = "UTF8"
    args[#args + 1] = { { literal = m.message, binary = true } }
  else
    args[#args + 1] = { literal = m.message }
  end
  return args, date
end

-- APPENDUID's UIDs for a command of count messages (RFC 4315: in the
-- order of the messages), or nil when the server gave none that fit.
local function appended_uids(tagged, data, count, what)
  local code = tagged and tagged.code
  if not (code and code.name == "APPENDUID" and
      type(code.value) == "table") then
    return nil
  end
  local uids = expand(code.value.uids, what, data)
  if #uids ~= count then return nil end
  return code.value.uidvalidity, uids
end

-- append(name, message [, opts{ flags, date }]) -> { uidvalidity, uid }
-- (date: an INTERNALDATE string or epoch seconds)
-- or true when the server gives no APPENDUID.
function Connection:append(name, message, opts)
  opts = opts or {}
  local what = "APPEND to " .. q(tostring(name))
  if type(message) ~= "string" then usage(what, "message must be a string") end
  local args, date = self:message_args({ mbox(name, what) },
    { message = message, flags = opts.flags, date = opts.date }, what)
  if self.intercept then
    return self:intercepted{ command = "APPEND", mailbox = name,
      flags = opts.flags, date = date, message = message, size = #message,
      args = args, what = what }
  end
  local tagged, data = self:mutate("APPEND", args, what)
  local uv, uids = appended_uids(tagged, data, 1, what)
  if uv then
    return { uidvalidity = uv, uid = uids[1],
      uids = tagged.code.value.uids }
  end
  return true
end

-- Bounds on one MULTIAPPEND command (RFC 3502 appends all of its
-- messages or none, so a failure costs at most this much), and on its
-- synchronizing literals (the encoder's ISF_CMD_MAX_SEGMENTS is 64).
local APPEND = {
  batch = 1000, batch_bytes = 64 * 1024 * 1024, max_sync = 60,
  -- Commands in flight: an APPEND's answer is one short line, so many
  -- can be outstanding without the server blocking on its writes.
  window = 64,
  literal_minus_max = 4096, -- RFC 7888 LITERAL-: larger ones synchronize
}
-- Whether a literal of n bytes waits for "+" (RFC 7888).
local function synchronizing(caps, n)
  if caps["LITERAL+"] then return false end
  if caps["LITERAL-"] then return n > APPEND.literal_minus_max end
  return true
end

-- append_items(messages, what) -> array of { args, size, sync }: each
-- message's part of an APPEND, checked before anything is sent.
function Connection:append_items(messages, what)
  if type(messages) ~= "table" then
    usage(what, "messages must be an array, not %s", type(messages))
  end
  local items = {}
  for i, m in ipairs(messages) do
    if type(m) == "string" then m = { message = m } end
    if type(m) ~= "table" or type(m.message) ~= "string" then
      usage(what, "message %d must be a string or { message = string }", i)
    end
    items[i] = { args = self:message_args({}, m, what), size = #m.message,
      sync = synchronizing(self.capabilities, #m.message) and 1 or 0 }
  end
  return items
end

-- append_batches(items, opts) -> array of { first, last }: one APPEND
-- per message, or with MULTIAPPEND (unless opts.multiappend == false)
-- runs of messages within APPEND's bounds.
function Connection:append_batches(items, opts)
  local multi = self.capabilities.MULTIAPPEND and opts.multiappend ~= false
  local most = multi and (opts.batch or APPEND.batch) or 1
  local out, b = {}, nil
  for i, it in ipairs(items) do
    if not b or i - b.first >= most or
        b.bytes + it.size > APPEND.batch_bytes or
        b.syncs + it.sync > APPEND.max_sync then
      b = { first = i, bytes = 0, syncs = 0 }
      out[#out + 1] = b
    end
    b.last, b.bytes, b.syncs = i, b.bytes + it.size, b.syncs + it.sync
  end
  return out
end

-- The arguments of the APPEND for batch b.
local function batch_args(target, items, b)
  local args = { target }
  for i = b.first, b.last do
    local a = items[i].args
    table.move(a, 1, #a, #args + 1, args)
  end
  return args
end

-- Failures that belong to one APPEND command: the link is still good,
-- the commands after it in flight are still answered.
local APPEND_OWN = { no = true, bad = true, limit = true, protocol = true,
  usage = true }

local function own_append_failure(self, err)
  return errors.is(err) and APPEND_OWN[err.kind] and self.conn ~= nil and
    not self.conn:closed() and not self.dropped
end

-- The batch's results from its completion (APPENDUID, or true each).
local function take_batch(results, b, tagged, data, what)
  local n = b.last - b.first + 1
  local uv, uids = appended_uids(tagged, data, n, what)
  for i = b.first, b.last do
    results[i] = uv and { uidvalidity = uv, uid = uids[i - b.first + 1] }
      or true
  end
end

-- append_window(run) -> the first failure (nil when every batch went
-- in): sends the batches at most a window ahead of the answers, reads
-- them in order into run.results. After a command's own failure nothing
-- more is sent, but those in flight are still read (they may succeed);
-- a lost link abandons them and raises run.lost.
function Connection:append_window(run)
  local batches, tags, sent, failure = run.batches, {}, 0, nil
  for k = 1, #batches do
    while not failure and sent < #batches and sent < k - 1 + run.window do
      local b = batches[sent + 1]
      local ok, tag = pcall(self.send, self, "APPEND",
        batch_args(run.target, run.items, b), run.what)
      if ok then
        sent = sent + 1
        tags[sent] = tag
      elseif own_append_failure(self, tag) then
        failure = { err = tag, k = sent + 1 } -- nothing of it was sent
      else
        self:abandon_all(tags, k)
        run.lost = tag
        return { err = tag, k = k }
      end
    end
    if k > sent then break end
    local ok, tagged, data = pcall(self.wait, self, tags[k], run.what, nil,
      "APPEND")
    if ok then
      take_batch(run.results, batches[k], tagged, data, run.what)
      run.done = run.done + batches[k].last - batches[k].first + 1
      if connection.on_progress then
        connection.on_progress("APPEND", run.done, #run.items)
      end
    elseif own_append_failure(self, tagged) then
      failure = failure or { err = tagged, k = k }
    else
      self:abandon_all(tags, k + 1); run.lost = tagged
      return { err = tagged, k = k }
    end
  end
  return failure
end

-- The error append_many raises: the failed command's kind, code and
-- text, with appended = how many messages from the first were confirmed
-- (messages[appended + 1] is the first not appended), results = what
-- every confirmed message got (later ones in flight may have gone in),
-- and uncertain = true when the link was lost with commands in flight.
local function append_error(run, failure, name)
  local err, n = failure.err, 0
  while run.results[n + 1] ~= nil do n = n + 1 end
  local fields = errors.is(err) and err or { kind = "protocol",
    text = tostring(err) }
  return errors.new{ kind = fields.kind, code = fields.code,
    text = fields.text, command = "APPEND", mailbox = name, appended = n,
    results = run.results, uncertain = run.lost ~= nil or nil,
    cause = err }
end

-- append_many(name, messages [, opts]) -> one { uidvalidity, uid }
-- (APPENDUID) or true per message, in order. messages: strings or
-- { message, flags, date }. With MULTIAPPEND (RFC 3502) runs of up to
-- opts.batch (1000) messages or 64 MiB go in one command; otherwise one
-- APPEND each. Commands are pipelined, opts.window (default: the
-- connection's pipeline_window, else 64) at a time; literals are
-- non-synchronizing with LITERAL+ or LITERAL- (RFC 7888), else each
-- waits for its "+". opts.multiappend = false sends one per command.
-- A failure raises a structured error (see append_error); nothing is
-- reported appended that was not. A dry run calls the interceptor once.
function Connection:append_many(name, messages, opts)
  opts = opts or {}
  local what = "APPEND to " .. q(tostring(name))
  local target = mbox(name, what)
  local items = self:append_items(messages, what)
  if self.intercept then
    local size = 0
    for _, it in ipairs(items) do size = size + it.size end
    return self:intercepted{ command = "APPEND", mailbox = name,
      messages = messages, count = #items, size = size, what = what }
  end
  local run = { target = target, items = items, what = what, results = {},
    done = 0, batches = self:append_batches(items, opts),
    window = opts.window or self.opts.pipeline_window or APPEND.window }
  local failure = self:append_window(run)
  if failure then error(append_error(run, failure, name), 0) end
  return run.results
end

function Connection:namespace()
  local _, data = self:run("NAMESPACE", nil, "NAMESPACE")
  local r = data_of(data, "NAMESPACE")[1] or {}
  return { personal = r.personal or {}, other = r.other or {},
    shared = r.shared or {} }
end

function Connection:enable(...)
  local caps = { ... }
  if type(caps[1]) == "table" then caps = caps[1] end
  if #caps == 0 then usage("ENABLE", "name at least one capability") end
  for i, c in ipairs(caps) do
    argforms.capability(c, ("capability %d"):format(i), "ENABLE")
  end
  local _, data = self:run("ENABLE", caps, "ENABLE")
  local enabled = {}
  for _, r in ipairs(data_of(data, "ENABLED")) do
    for _, c in ipairs(r.caps) do
      enabled[#enabled + 1] = c
      if c:upper() == "UTF8=ACCEPT" then self.utf8 = true end
      -- ENABLE lasts one session: reconnect() sends it again.
      self.enabled_caps = self.enabled_caps or {}
      self.enabled_caps[c:upper()] = true
    end
  end
  return enabled
end

---------------------------------------------------------------------------
-- Selected

function Connection:check()
  self:run("CHECK", nil, "CHECK")
  return true
end

-- close(): the CLOSE command (expunges \Deleted mail and leaves the
-- mailbox); imaplib's close. shutdown() drops the connection.
function Connection:close()
  local what = "CLOSE " .. q(self.mailbox and self.mailbox.name or "?")
  -- A dry run keeps the mailbox selected: CLOSE would expunge it.
  if self.intercept then
    return self:intercepted{ command = "CLOSE", what = what }
  end
  self:mutate("CLOSE", nil, what)
  self.mailbox = nil
  return true
end

Connection.close_mailbox = Connection.close

function Connection:unselect()
  if not self.capabilities.UNSELECT then
    usage("UNSELECT", "server lacks UNSELECT (use close)")
  end
  self:run("UNSELECT", nil, "UNSELECT")
  self.mailbox = nil
  return true
end

-- The sequence numbers a command's EXPUNGE responses named and the UIDs
-- of its VANISHED ones (folded into data.expunged and data.vanished).
local function expunged(data)
  return data.expunged or {}, data.vanished or {}
end

-- expunge([uids]) -> sequence numbers expunged, UIDs expunged. After
-- ENABLE QRESYNC the server names UIDs (VANISHED) instead of sequence
-- numbers (RFC 7162 3.2.7): then the first is empty. With uids, UID
-- EXPUNGE (UIDPLUS) removes only those messages.
function Connection:expunge(uids)
  local what = "EXPUNGE in " .. q(self.mailbox and self.mailbox.name or "?")
  if uids == nil then
    if self.intercept then
      return self:intercepted{ command = "EXPUNGE", what = what }
    end
    local _, data = self:mutate("EXPUNGE", nil, what)
    return expunged(data or {})
  end
  if not self.capabilities.UIDPLUS then
    usage(what, "UID EXPUNGE needs UIDPLUS, which the server lacks")
  end
  if self.intercept then
    return self:intercepted{ command = "UID EXPUNGE", uids = uids,
      args = { whole(uids) }, what = what }
  end
  local _, _, all, uids_gone = self:run_set("EXPUNGE", uids,
    function(p) return { argforms.seqset(p) } end, what, nil, true)
  return all, uids_gone
end

-- search_command(criteria [, opts]) -> name, args, what: the one command
-- search() sends for criteria, built without sending it (so that several
-- can go out before any answer is read); nil, pieces when a UID array is
-- too long for one line and the search must be split into pieces.
function Connection:search_command(criteria, opts)
  opts = opts or {}
  local split_ok, pieces = pcall(search.split_uid, criteria,
    self.max_line - 200, set)
  if split_ok and pieces then return nil, pieces end
  local ok, keys, eightbit = pcall(search.encode, criteria, set)
  if not ok then usage("SEARCH", "%s", tostring(keys)) end
  local args = {}
  local esearch = self.capabilities.ESEARCH
  if esearch then args[#args + 1] = "RETURN"; args[#args + 1] = { "ALL" } end
  if eightbit and not self.utf8 then
    args[#args + 1] = "CHARSET"; args[#args + 1] = "UTF-8"
  end
  for _, k in ipairs(keys) do args[#args + 1] = k end
  local box = self.mailbox and self.mailbox.name
  return opts.seq and "SEARCH" or "UID SEARCH", args,
    box and "SEARCH in " .. q(box) or "SEARCH"
end

local function ascending(list)
  for k = 2, #list do
    if list[k - 1] > list[k] then return false end
  end
  return true
end

-- search_result(data, what) -> ascending numbers from the responses a
-- search command collected (SEARCH, or ESEARCH ALL ranges). The usual
-- single answer is taken as it is and, being in order, not sorted: a
-- search of a million messages makes one array of them, not three.
local function search_result(data, what)
  local lists = {}
  for _, r in ipairs(data) do
    if r.type == "SEARCH" then
      lists[#lists + 1] = r.nums or {}
    elseif r.type == "ESEARCH" and r.all then
      lists[#lists + 1] = expand(r.all, what, data)
    end
  end
  local out = lists[1] or {}
  for k = 2, #lists do
    table.move(lists[k], 1, #lists[k], #out + 1, out)
  end
  if not ascending(out) then table.sort(out) end
  return out
end

-- search(criteria [, opts]) -> ascending UIDs (sequence numbers with
-- opts.seq). Uses ESEARCH when offered, so big results travel as ranges.
function Connection:search(criteria, opts)
  local name, args, what = self:search_command(criteria, opts)
  if not name then -- args: the pieces of a split UID array, pipelined
    local results, failures = self:search_many(args, opts)
    local out = {}
    for i = 1, #args do
      if failures[i] then error(failures[i], 0) end
      table.move(results[i], 1, #results[i], #out + 1, out)
    end
    table.sort(out)
    return out
  end
  local _, data = self:run(name, args, what)
  return search_result(data, what)
end

-- Failures that belong to one search of a batch; any other (a lost link,
-- a timeout) leaves none of the batch answered.
local OWN_FAILURE = { no = true, bad = true, limit = true, protocol = true,
  usage = true }

local function own_failure(self, err)
  return errors.is(err) and OWN_FAILURE[err.kind] and self.conn ~= nil and
    not self.conn:closed() and not self.dropped
end

-- Reads the answer of command k of a batch into results or failures.
function Connection:search_answer(cmd, tag, results, failures)
  local ok, res = pcall(function()
    local _, data = self:wait(tag, cmd.what, nil, cmd.name)
    return search_result(data, cmd.what)
  end)
  if ok then results[cmd.i] = res
  elseif own_failure(self, res) then failures[cmd.i] = res
  else return res end
end

-- Sends the commands of a batch, at most a window's worth ahead of the
-- answers read (a server blocked writing answers stops reading), and
-- reads every answer in order.
function Connection:search_window(cmds, results, failures)
  local window = self.opts.pipeline_window or connection.PIPELINE_WINDOW
  local tags, sent = {}, 0
  for k = 1, #cmds do
    while sent < #cmds and sent < k - 1 + window do
      local c = cmds[sent + 1]
      local ok, tag = pcall(self.send, self, c.name, c.args, c.what)
      if not ok then self:abandon_all(tags, k); error(tag, 0) end
      sent = sent + 1
      tags[sent] = tag
    end
    local err = self:search_answer(cmds[k], tags[k], results, failures)
    if err then self:abandon_all(tags, k + 1); error(err, 0) end
  end
end

-- search_many(list [, opts]) -> results, failures: the searches of list
-- (criteria as search() takes them) pipelined: all sent before their
-- answers are read, replies matched by tag, so N searches cost one round
-- trip. results[i] holds the UIDs of list[i], or failures[i] its error
-- (NO, BAD, a broken limit). A lost link or a timeout raises.
function Connection:search_many(list, opts)
  local results, failures, cmds, split = {}, {}, {}, {}
  for i, c in ipairs(list) do
    local ok, name, args, what = pcall(self.search_command, self, c, opts)
    if not ok then failures[i] = name
    elseif name then
      cmds[#cmds + 1] = { i = i, name = name, args = args, what = what }
    else split[#split + 1] = i end
  end
  self:search_window(cmds, results, failures)
  for _, i in ipairs(split) do results[i] = self:search(list[i], opts) end
  return results, failures
end

-- The items as { fetch = } forms, each checked against the fetch-att
-- grammar (a macro ALL, FAST or FULL alone is expanded).
local function item_list(items, what)
  return argforms.fetch_items(items, what)
end

-- Under a dry run the fetch items that set \Seen go out as their .PEEK
-- forms (RFC 9051 6.4.5): BODY[...] and BINARY[...] gain .PEEK, RFC822
-- and RFC822.TEXT become BODY.PEEK[] and BODY.PEEK[TEXT]. The answers
-- come back under the same body[...] and binary[...] keys.
local PEEK_WHOLE = { RFC822 = "BODY.PEEK[]",
  ["RFC822.TEXT"] = "BODY.PEEK[TEXT]" }

local function peek_item(it)
  if type(it) ~= "string" then return it end
  if PEEK_WHOLE[it:upper()] then return PEEK_WHOLE[it:upper()] end
  local base, rest = it:match("^(%a+)(%[.*)$")
  base = base and base:upper()
  if base == "BODY" or base == "BINARY" then
    return base .. ".PEEK" .. rest
  end
  return it
end

-- peek_items(items) -> items in .PEEK form, true when RFC822 was asked.
local function peek_items(items)
  if type(items) == "string" then items = { items } end
  if type(items) ~= "table" then return items, false end
  local out, rfc822 = {}, false
  for i, it in ipairs(items) do
    out[i] = peek_item(it)
    rfc822 = rfc822 or (type(it) == "string" and it:upper() == "RFC822")
  end
  return out, rfc822
end

-- fetch(set, items [, opts]) -> array of message tables in server order.
-- opts.each(msg) streams messages instead of collecting them;
-- opts.changedsince adds the CONDSTORE modifier.
function Connection:fetch(msgset, items, opts)
  opts = opts or {}
  local what = "FETCH"
  local rfc822
  if self.intercept then items, rfc822 = peek_items(items) end
  local list = item_list(items, what)
  -- A UID FETCH answers with the UID in every response; a FETCH without
  -- one is an unsolicited flag update about some other message. RFC822
  -- sent as BODY.PEEK[] still reaches the caller as rfc822.
  local function ours(r)
    local mine = r.type == "FETCH" and (opts.seq or r.uid ~= nil)
    if mine and rfc822 and r.body then r.rfc822 = r.body[""] end
    return mine
  end
  local each = opts.each and function(r)
    if ours(r) then opts.each(r); return true end
  end
  local data = self:run_set("FETCH", msgset, function(piece)
    local args = { argforms.seqset(piece), list }
    if opts.changedsince then
      args[3] = { "CHANGEDSINCE", opts.changedsince }
    end
    return args
  end, what, { seq = opts.seq, each = each })
  -- Kept in place: the responses that are not ours are squeezed out of
  -- the same array, so a big fetch is not held twice.
  local n = 0
  for i = 1, #data do
    local r = data[i]
    data[i] = nil
    if ours(r) then n = n + 1; data[n] = r end
  end
  return data
end

-- store(set, mode, flags [, opts]) -> FETCH results (empty with
-- opts.silent). mode: "+FLAGS", "-FLAGS" or "FLAGS".
function Connection:store(msgset, mode, flags, opts)
  opts = opts or {}
  local what = "STORE " .. tostring(mode)
  local m = type(mode) == "string" and mode:upper() or ""
  if not (m == "+FLAGS" or m == "-FLAGS" or m == "FLAGS" or
      m:match("^[+-]?FLAGS%.SILENT$")) then
    usage(what, "mode must be +FLAGS, -FLAGS or FLAGS")
  end
  if opts.silent and not m:find("SILENT") then m = m .. ".SILENT" end
  flags = argforms.flags(flags, "flags", what)
  local function build(piece)
    local args = { argforms.seqset(piece) }
    if opts.unchangedsince then
      args[#args + 1] = { "UNCHANGEDSINCE", opts.unchangedsince }
    end
    args[#args + 1] = m
    args[#args + 1] = argforms.flag_list(flags)
    return args
  end
  if self.intercept then
    return self:intercepted{ command = opts.seq and "STORE" or "UID STORE",
      uids = msgset, seq = opts.seq or nil, mode = m, flags = flags,
      args = build(whole(msgset)), what = what }
  end
  local data = self:run_set("STORE", msgset, build, what, opts, true)
  return data_of(data, "FETCH")
end

-- COPYUID from a tagged or untagged response code, merged over pieces.
local function copyuid_of(responses, mapping, what, data)
  for _, r in ipairs(responses) do
    local c = r.code
    if c and c.name == "COPYUID" and type(c.value) == "table" then
      mapping = mapping or { source = {}, dest = {} }
      mapping.uidvalidity = c.value.uidvalidity
      for _, v in ipairs(expand(c.value.source, what, data)) do
        mapping.source[#mapping.source + 1] = v
      end
      for _, v in ipairs(expand(c.value.dest, what, data)) do
        mapping.dest[#mapping.dest + 1] = v
      end
    end
  end
  return mapping
end

-- Runs COPY or MOVE over the pieces of msgset, collecting COPYUID.
function Connection:transfer(cmd, msgset, dest, opts)
  opts = opts or {}
  local what = cmd .. " to " .. q(tostring(dest))
  local target = mbox(dest, what)
  local full = opts.seq and cmd or ("UID " .. cmd)
  if self.intercept then
    return self:intercepted{ command = full, uids = msgset,
      seq = opts.seq or nil, destination = dest,
      args = { whole(msgset), target }, what = what }
  end
  local mapping
  for _, piece in ipairs(set.split(msgset, self.max_line - 200)) do
    local tagged, data = self:mutate(full,
      { argforms.seqset(piece), target }, what)
    if tagged then
      mapping = copyuid_of(data or {}, mapping, what, data)
      mapping = copyuid_of({ tagged }, mapping, what, data)
    end
  end
  return mapping or true
end

-- copy(set, mailbox [, opts]) -> { uidvalidity, source, dest } or true
function Connection:copy(msgset, dest, opts)
  return self:transfer("COPY", msgset, dest, opts)
end

-- move(set, mailbox [, opts]): MOVE when offered; otherwise COPY, then
-- \Deleted and UID EXPUNGE of exactly those UIDs (a plain EXPUNGE only
-- with opts.expunge_all, since it also removes other deleted mail).
function Connection:move(msgset, dest, opts)
  opts = opts or {}
  if self.capabilities.MOVE then
    return self:transfer("MOVE", msgset, dest, opts)
  end
  local what = "MOVE to " .. q(tostring(dest))
  if opts.seq then usage(what, "the MOVE fallback needs UIDs, not sequence numbers") end
  if not self.capabilities.UIDPLUS and not opts.expunge_all then
    usage(what, "server lacks MOVE and UIDPLUS; pass expunge_all = true " ..
      "to allow a plain EXPUNGE (it also removes other \\Deleted mail)")
  end
  -- A dry run hears of one move, not of the three commands standing in.
  if self.intercept then
    return self:intercepted{ command = "UID MOVE", uids = msgset,
      destination = dest, fallback = true,
      expunge_all = opts.expunge_all and true or nil,
      args = { whole(msgset), mbox(dest, what) }, what = what }
  end
  local mapping = self:transfer("COPY", msgset, dest, opts)
  self:store(msgset, "+FLAGS.SILENT", { "\\Deleted" })
  if self.capabilities.UIDPLUS then self:expunge(msgset) else self:expunge() end
  return mapping
end

-- command(name, args) -> tagged, untagged: anything not covered above.
-- args use the encoder's forms (c/lua_command.h): a plain string is one
-- value (an atom when it is one, else quoted or a literal); { flag = },
-- { seqset = }, { fetch = } are checked by their grammar; { raw = s } is
-- the only way to send text as syntax, verbatim.
function Connection:command(name, args, opts)
  if type(name) ~= "string" then usage("command", "name must be a string") end
  local runner = (opts and opts.mutating == false) and self.run or self.mutate
  return runner(self, name:upper(), args, name:upper())
end

-- response(type) -> the untagged responses of that type received so
-- far, which are then forgotten (imaplib's response()).
function Connection:response(typ)
  typ = tostring(typ):upper()
  local list = self.untagged[typ] or {}
  self.untagged[typ] = nil
  return list
end

return Connection
