-- imapsift.message: Message, one message read from a MessageSet (uid,
-- mailbox, flags, size, date, decoded subject and addresses, any header,
-- body and parts fetched on demand with BODY.PEEK), and the batched
-- reading of sets: set:each(fields), set:messages(fields).

local errors = require "imapsift.error"
local internaldate = require "imapsift.internaldate"
local msgset = require "imapsift.msgset"

local M = {}

local Message = {}
M.Message = Message

-- R1's header decoding, loaded when first needed.
local headers_mod
local function headers()
  headers_mod = headers_mod or require "imapsift.headers"
  return headers_mod
end

-- Fields that come from a header, and the header each comes from.
M.HEADER_FIELDS = { from = "From", to = "To", cc = "Cc", bcc = "Bcc",
  reply_to = "Reply-To", subject = "Subject", message_id = "Message-ID",
  sent = "Date" }
local ADDRESSES = { from = true, to = true, cc = true, bcc = true,
  reply_to = true }
-- Fields that are FETCH items of their own.
local ITEMS = { flags = "FLAGS", size = "RFC822.SIZE", date = "INTERNALDATE" }

-- A header name usable in HEADER.FIELDS (RFC 5322 field-name, kept to
-- what is also an IMAP atom).
function M.header_name(name)
  if type(name) ~= "string" or not name:match("^[%w%-_%.]+$") then
    errors.usage("fetch", "not a header field name: %s", tostring(name))
  end
  return name
end

-- A Message keeps little of its own: { [1] = header block, uid, o_ =
-- origin } and the items and decoded fields read so far. The origin {
-- mailbox, uidvalidity, wanted } is shared by the messages read together;
-- the header block stays the one string the server sent (the only raw
-- copy: parsed when a header is asked for, the parse kept only for the
-- message read last), and a decoded field is kept once computed. The
-- block sits in the array part, so that uid, o_, from and subject fit a
-- hash of four slots instead of eight (Lua sizes it in powers of two).
local BLOCK = 1

-- The last origin made, held weakly so that it never keeps an account.
local recent = setmetatable({}, { __mode = "v" })

local function origin(mailbox, uidvalidity, wanted)
  local o = recent.o
  if not (o and o.mailbox == mailbox and o.uidvalidity == uidvalidity and
      o.wanted == wanted) then
    o = { mailbox = mailbox, uidvalidity = uidvalidity, wanted = wanted }
    recent.o = o
  end
  return o
end

-- The parsed header block of the message read last, so that msg.subject
-- then msg.from parse it once; one entry, its key held weakly.
local memo = setmetatable({}, { __mode = "k" })

local function parsed(self, block)
  local p = memo[self]
  if p == nil then
    local old = next(memo)
    if old ~= nil then memo[old] = nil end
    p = headers().parse(block)
    memo[self] = p
  end
  return p
end

-- The value of a header-derived field, from the header block.
local function from_header(self, field)
  -- called directly: self:raw_headers would go through __index first
  local raw = Message.raw_headers(self, M.HEADER_FIELDS[field])
  if raw == nil then
    -- No To: is no addresses, so msg.to[1] needs no nil check first.
    return ADDRESSES[field] and {} or nil
  end
  local h = headers()
  if ADDRESSES[field] then
    -- one header, the common case: its list is already a fresh table
    if #raw == 1 then return h.addresses(raw[1]) end
    local list = {}
    for _, v in ipairs(raw) do
      for _, a in ipairs(h.addresses(v)) do list[#list + 1] = a end
    end
    return list
  elseif field == "subject" then
    return h.decode(raw[1])
  elseif field == "sent" then
    return h.date(raw[1])
  end
  return (raw[1]:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Computed fields: from the headers, or fetched when the set was read
-- without them (msg.size after each{ "subject" }).
function Message.__index(self, k)
  local m = Message[k]
  if m ~= nil then return m end
  if k == "mailbox" or k == "uidvalidity" then
    return rawget(self, "o_")[k]
  end
  local v
  if M.HEADER_FIELDS[k] then
    v = from_header(self, k)
  elseif ITEMS[k] then
    self:fetch_items()
    return rawget(self, k)
  end
  if v ~= nil then rawset(self, k, v) end
  return v
end

-- fetch(items) -> the FETCH table of this message, on the account's
-- connection, with its mailbox selected under the set's UIDVALIDITY.
function Message:fetch(items)
  local o = rawget(self, "o_")
  local mb, uv, uid = o.mailbox, o.uidvalidity, rawget(self, "uid")
  local r = mb.account:read(function(c)
    mb:ensure(uv, true)
    return c:fetch({ uid }, items)[1]
  end)
  if r == nil then
    errors.raise{ kind = "no", command = "FETCH", mailbox = mb.name,
      text = ("message UID %d is no longer in %s"):format(uid, mb.name) }
  end
  return r
end

local function set_items(self, r)
  if r.flags then rawset(self, "flags", r.flags) end
  if r.size then rawset(self, "size", r.size) end
  if r.internaldate then
    rawset(self, "date", internaldate.parse(r.internaldate))
  end
end

function Message:fetch_items()
  set_items(self, self:fetch{ "FLAGS", "RFC822.SIZE", "INTERNALDATE" })
end

local function header_block(r)
  for k, v in pairs(r.body or {}) do
    if k:match("^HEADER") then return v end
  end
end

-- raw_headers(name) -> array of the raw (undecoded, unfolded) values of
-- header name, or nil; the whole header is fetched when the set was
-- read without that field.
function Message:raw_headers(name)
  local lname = name:lower()
  local block = rawget(self, BLOCK)
  local known = rawget(self, "k_") or rawget(self, "o_").wanted
  if block and (known == true or (known and known[lname])) then
    return parsed(self, block)[lname]
  end
  block = header_block(self:fetch{ "BODY.PEEK[HEADER]" }) or ""
  memo[self] = nil
  rawset(self, BLOCK, block)
  rawset(self, "k_", true)
  return parsed(self, block)[lname]
end

-- header(name) -> the first value of header name, RFC 2047 words decoded
-- to UTF-8, or nil when the message has none.
function Message:header(name)
  local raw = self:raw_headers(M.header_name(name))
  return raw and headers().decode(raw[1])
end

-- headers(name) -> every value of header name, decoded (an array).
function Message:headers(name)
  local out, h = {}, headers()
  for i, v in ipairs(self:raw_headers(M.header_name(name)) or {}) do
    out[i] = h.decode(v)
  end
  return out
end

local function section(self, sec)
  local r = self:fetch{ "BODY.PEEK[" .. sec .. "]" }
  return r.body and r.body[sec]
end

-- body() -> the message text after the header (bytes as stored).
function Message:body() return section(self, "TEXT") end

-- message() -> the whole message (header and body).
function Message:message() return section(self, "") end

-- part(n) -> body part n (a number, or "1.2" for a nested part).
function Message:part(n)
  local sec = tostring(n)
  if not sec:match("^%d+[%.%d]*$") or sec:match("%.%.") or
      sec:match("%.$") then
    errors.usage("part", "needs a part number like 1 or \"1.2\", got %s",
      tostring(n))
  end
  return section(self, sec)
end

-- structure() -> the message's BODYSTRUCTURE, as the connection parses
-- it (README, fetch): fetched once, on demand.
function Message:structure()
  local st = rawget(self, "structure_")
  if st == nil then
    st = self:fetch{ "BODYSTRUCTURE" }.bodystructure or false
    rawset(self, "structure_", st)
  end
  return st or nil
end

-- One leaf of the structure as parts() lists it.
local function leaf(node, sec)
  local params = node.params or {}
  local disp = node.disposition and node.disposition.params or {}
  local name = disp.filename or params.name
  return { section = sec, size = node.size, encoding = node.encoding,
    type = ("%s/%s"):format(node.type or "?", node.subtype or "?"),
    charset = params.charset, name = name and headers().decode(name),
    disposition = node.disposition and node.disposition.type }
end

-- parts() -> every leaf body part in order: { section = "1.2", type =
-- "text/plain", size, encoding, charset, name (the file name, decoded),
-- disposition }; msg:part(p.section) fetches one. A message that is not
-- multipart has one part, "1" (RFC 9051 6.4.5).
function Message:parts()
  local out = {}
  local function walk(node, prefix)
    if node.type == "multipart" then
      for i, child in ipairs(node.parts or {}) do
        walk(child, prefix == "" and tostring(i) or prefix .. "." .. i)
      end
    else
      out[#out + 1] = leaf(node, prefix == "" and "1" or prefix)
    end
  end
  local st = self:structure()
  if st then walk(st, "") end
  return out
end

function Message:__tostring()
  return ("message UID %d in %s"):format(rawget(self, "uid"),
    rawget(self, "o_").mailbox.name)
end

-- new(mailbox, uidvalidity, r [, wanted]) -> Message from a FETCH table
-- r; wanted lists the (lower-case) header names the FETCH asked for. The
-- table is made at its final size: one constructor for what r holds.
function M.new(mailbox, uidvalidity, r, wanted)
  local o = origin(mailbox, uidvalidity, wanted)
  local block = wanted and header_block(r) or nil
  if r.flags == nil and r.size == nil and r.internaldate == nil then
    return setmetatable({ block, uid = r.uid, o_ = o }, Message)
  end
  return setmetatable({ block, uid = r.uid, o_ = o, flags = r.flags,
    size = r.size, date = r.internaldate and
      internaldate.parse(r.internaldate) }, Message)
end

---------------------------------------------------------------------------
-- Reading sets in batches

-- items_for(fields) -> FETCH items, set of wanted lower-case headers.
local function items_for(fields)
  if fields ~= nil and type(fields) ~= "table" then
    errors.usage("each", "fields must be an array of names")
  end
  local items, names, wanted, seen = { "UID" }, {}, {}, {}
  for _, f in ipairs(fields or {}) do
    local item = ITEMS[f]
    local h = M.HEADER_FIELDS[f] or (item == nil and f ~= "uid" and
      M.header_name(f))
    if item and not seen[item] then
      seen[item] = true; items[#items + 1] = item
    elseif h and not wanted[h:lower()] then
      wanted[h:lower()] = true; names[#names + 1] = h:upper()
    end
  end
  if #names > 0 then
    items[#items + 1] = "BODY.PEEK[HEADER.FIELDS (" ..
      table.concat(names, " ") .. ")]"
  end
  return items, wanted
end
M.items_for = items_for

-- each(set, fields) -> iterator of Messages, fetched in growing batches
-- (msgset.batches), so memory is bounded by a batch whatever the size of
-- the set, and a big set costs few round trips.
function M.each(self, fields)
  local items, wanted = items_for(fields)
  local parts, pi, start, buf, bi = self:parts(), 1, 1, {}, 0
  local next_batch
  local big -- the parallel reader of the part being read, if any
  return function()
    while true do
      bi = bi + 1
      local m = buf[bi]
      if m then buf[bi] = false; return m end
      local p = parts[pi]
      if p == nil then return nil end
      if start == 1 and not big then
        big = M.parallel_reader(p, items, wanted)
      end
      if big then
        local m2 = big()
        if m2 then return m2 end
        pi, big = pi + 1, nil
      else
        if start == 1 then next_batch = msgset.batches(#p.uids) end
        local first, last = next_batch()
        if not first then
          pi, start = pi + 1, 1
        else
          start = last + 1
          buf, bi = M.read_batch(p, table.move(p.uids, first, last, 1, {}),
            items, wanted), 0
        end
      end
    end
  end
end

-- parallel_reader(part, items, wanted) -> an iterator over the part's
-- Messages split over the account's extra connections (parallel.lua), or
-- nil when the part is not above the account's parallel_threshold or no
-- extra connection could be opened.
function M.parallel_reader(part, items, wanted)
  local acct = part.mailbox.account
  local o = rawget(acct, "opts")
  local n, limit = o.parallel or 1, o.parallel_threshold or math.huge
  if math.type(n) ~= "integer" or n < 1 or type(limit) ~= "number" then
    errors.usage("account", "parallel must be an integer >= 1 and " ..
      "parallel_threshold a number")
  end
  if n < 2 or #part.uids <= limit then return nil end
  acct:conn()
  local lanes = acct:read_lanes()
  if #lanes == 0 then return nil end
  local mb = part.mailbox
  return require("imapsift.parallel").reader(part, lanes, items,
    function(r) return M.new(mb, part.uidvalidity, r, wanted) end,
    function(uids) return M.read_batch(part, uids, items, wanted) end)
end

-- read_batch(part, uids, items, wanted) -> Messages sorted by UID.
function M.read_batch(part, uids, items, wanted)
  local out = {}
  local mb = part.mailbox
  mb.account:read(function(c)
    out = {} -- a retry on a new link starts the batch again
    mb:ensure(part.uidvalidity, true)
    c:fetch(uids, items, { each = function(r)
      out[#out + 1] = M.new(mb, part.uidvalidity, r, wanted)
    end })
  end)
  table.sort(out, function(a, b) return a.uid < b.uid end)
  return out
end

-- messages(set, fields) -> array of every Message of the set.
function M.messages(self, fields)
  local out = {}
  for m in M.each(self, fields) do out[#out + 1] = m end
  return out
end

return M
