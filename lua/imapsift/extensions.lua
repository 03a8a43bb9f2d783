-- imapsift.extensions: imaplib's remaining commands as methods of the
-- connection object: SORT and THREAD (RFC 5256), ACL (RFC 4314), QUOTA
-- (RFC 9208), METADATA (RFC 5464), the ANNOTATEMORE draft
-- (draft-daboo-imap-annotatemore) that imaplib speaks, PROXYAUTH,
-- PARTIAL (as a partial FETCH, RFC 3501 6.4.5), RECENT and XATOM.
-- Responses the parser leaves in the generic form ({ type, args }) are
-- decoded here.

local errors = require "imapsift.error"
local set = require "imapsift.set"
local search = require "imapsift.search"
local Connection = require("imapsift.connection").Connection

local usage = errors.usage

local function malformed(command, fmt, ...)
  errors.raise{ kind = "protocol", command = command,
    text = "malformed response: " .. fmt:format(...) }
end

local function q(name) return '"' .. errors.escape(tostring(name)) .. '"' end

-- A mailbox argument; "" only where allowed (METADATA's server entries).
local function mbox(name, what, allow_empty)
  if type(name) ~= "string" or (name == "" and not allow_empty) then
    usage(what, "mailbox name must be a non-empty string")
  end
  return { mailbox = name }
end

local function nonempty(v, label, what)
  if type(v) ~= "string" or v == "" then
    usage(what, "%s must be a non-empty string", label)
  end
  return v
end

-- A string or number from the generic values of a response (atoms made
-- of digits come back as integers).
local function text(v, what, label)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return tostring(v) end
  malformed(what, "%s is missing or not a string", label)
end

-- The args of the untagged responses of type typ, in order.
local function args_of(data, typ)
  local out = {}
  for _, r in ipairs(data or {}) do
    if r.type == typ and type(r.args) == "table" then out[#out + 1] = r.args end
  end
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

---------------------------------------------------------------------------
-- SORT and THREAD (RFC 5256)

-- The search part of SORT and THREAD, in the form search() takes;
-- nil means ALL.
local function search_keys(criteria, what)
  local ok, keys = pcall(search.encode, criteria or "ALL", set)
  if not ok then usage(what, "%s", tostring(keys)) end
  return keys
end

local function charset_arg(charset, what)
  charset = charset or "UTF-8"
  if type(charset) ~= "string" or not charset:match("^[%w%-_.:]+$") then
    usage(what, "charset must be a name such as \"UTF-8\"")
  end
  return { str = charset }
end

-- Sort keys as an array ({ "REVERSE", "DATE" }) or imaplib's string
-- ("(REVERSE DATE)"); each REVERSE must be followed by a key.
local function sort_keys(criteria, what)
  if type(criteria) == "string" then
    local list = {}
    for w in criteria:gsub("[()]", " "):gmatch("%S+") do list[#list + 1] = w end
    criteria = list
  end
  if type(criteria) ~= "table" or #criteria == 0 then
    usage(what, "sort criteria must be a non-empty array such as " ..
      "{ \"REVERSE\", \"DATE\" }")
  end
  local out = {}
  for i, k in ipairs(criteria) do
    if type(k) ~= "string" or not k:match("^%a[%w%-]*$") then
      usage(what, "sort key %d is not a key name: %s", i, tostring(k))
    end
    out[i] = k:upper()
  end
  if out[#out] == "REVERSE" then
    usage(what, "REVERSE must be followed by a sort key")
  end
  return out
end

-- Builds the arguments shared by SORT and THREAD.
local function sort_args(first, charset, criteria, what)
  local args = { first, charset_arg(charset, what) }
  for _, k in ipairs(search_keys(criteria, what)) do args[#args + 1] = k end
  return args
end

-- sort(criteria, charset, search [, opts]) -> UIDs (sequence numbers with
-- opts.seq) of the messages matching search, in the order criteria give:
--   imap:sort({ "REVERSE", "DATE" }, "UTF-8", { "FROM", "bob" })
function Connection:sort(criteria, charset, crit, opts)
  opts = opts or {}
  local what = "SORT"
  if not self.capabilities.SORT then
    usage(what, "server does not offer SORT")
  end
  local args = sort_args(sort_keys(criteria, what), charset, crit, what)
  local _, data = self:run(opts.seq and "SORT" or "UID SORT", args, what)
  local out = {}
  for _, r in ipairs(data) do
    if r.type == "SORT" then table.move(r.nums, 1, #r.nums, #out + 1, out) end
  end
  return out
end

-- One thread-list of a THREAD response as nested arrays: numbers are
-- messages, arrays are branches.
local function thread_tree(list, what)
  local out = {}
  for i, v in ipairs(list) do
    if math.type(v) == "integer" then out[i] = v
    elseif type(v) == "table" then out[i] = thread_tree(v, what)
    else malformed(what, "THREAD holds %s", tostring(v)) end
  end
  return out
end

-- thread(algorithm, charset, search [, opts]) -> one array per thread,
-- keeping the tree: "* THREAD (2)(3 6 (4 23)(44 7 96))" gives
-- { { 2 }, { 3, 6, { 4, 23 }, { 44, 7, 96 } } }. UIDs unless opts.seq.
function Connection:thread(algorithm, charset, crit, opts)
  opts = opts or {}
  local what = "THREAD " .. tostring(algorithm)
  if type(algorithm) ~= "string" or not algorithm:match("^%a[%w%-]*$") then
    usage(what, "algorithm must be a name such as \"REFERENCES\"")
  end
  algorithm = algorithm:upper()
  if not self.capabilities["THREAD=" .. algorithm] then
    usage(what, "server does not offer THREAD=%s", algorithm)
  end
  local args = sort_args(algorithm, charset, crit, what)
  local _, data = self:run(opts.seq and "THREAD" or "UID THREAD", args, what)
  local out = {}
  for _, a in ipairs(args_of(data, "THREAD")) do
    for _, t in ipairs(a) do
      if type(t) ~= "table" then malformed(what, "THREAD outside a list") end
      out[#out + 1] = thread_tree(t, what)
    end
  end
  return out
end

---------------------------------------------------------------------------
-- ACL (RFC 4314)

local function rights_arg(rights, what)
  if type(rights) ~= "string" or not rights:match("^[+-]?[%w]*$") then
    usage(what, "rights must be a string of right letters such as " ..
      "\"lrs\", \"+w\" or \"-w\"")
  end
  return { str = rights }
end

-- getacl(mailbox) -> { [identifier] = rights }
function Connection:getacl(name)
  local what = "GETACL on " .. q(name)
  local _, data = self:run("GETACL", { mbox(name, what) }, what)
  local acl = {}
  for _, a in ipairs(args_of(data, "ACL")) do
    for i = 2, #a, 2 do
      acl[text(a[i], what, "identifier")] = text(a[i + 1], what, "rights")
    end
  end
  return acl
end

-- setacl(mailbox, identifier, rights) -> true. rights replace the
-- identifier's rights; "+lr" adds to them and "-w" removes from them.
function Connection:setacl(name, identifier, rights)
  local what = "SETACL on " .. q(name) .. " for " .. q(identifier)
  local args = { mbox(name, what),
    { str = nonempty(identifier, "identifier", what) },
    rights_arg(rights, what) }
  if self.intercept then
    return self:intercepted{ command = "SETACL", mailbox = name,
      identifier = identifier, rights = rights, args = args, what = what }
  end
  self:mutate("SETACL", args, what)
  return true
end

-- deleteacl(mailbox, identifier) -> true
function Connection:deleteacl(name, identifier)
  local what = "DELETEACL on " .. q(name) .. " for " .. q(identifier)
  local args = { mbox(name, what),
    { str = nonempty(identifier, "identifier", what) } }
  if self.intercept then
    return self:intercepted{ command = "DELETEACL", mailbox = name,
      identifier = identifier, args = args, what = what }
  end
  self:mutate("DELETEACL", args, what)
  return true
end

-- myrights(mailbox) -> the rights string of the logged-in user
function Connection:myrights(name)
  local what = "MYRIGHTS on " .. q(name)
  local _, data = self:run("MYRIGHTS", { mbox(name, what) }, what)
  local a = args_of(data, "MYRIGHTS")[1]
  if not a then malformed(what, "no MYRIGHTS response") end
  return text(a[2], what, "rights")
end

-- listrights(mailbox, identifier) -> { required = "rights always
-- granted", optional = { "rights that can be granted (together)", ... } }
function Connection:listrights(name, identifier)
  local what = "LISTRIGHTS on " .. q(name) .. " for " .. q(identifier)
  local _, data = self:run("LISTRIGHTS", { mbox(name, what),
    { str = nonempty(identifier, "identifier", what) } }, what)
  local a = args_of(data, "LISTRIGHTS")[1]
  if not a then malformed(what, "no LISTRIGHTS response") end
  local out = { required = text(a[3], what, "required rights"),
    optional = {} }
  for i = 4, #a do out.optional[i - 3] = text(a[i], what, "rights") end
  return out
end

---------------------------------------------------------------------------
-- QUOTA (RFC 9208)

-- "(STORAGE 10 512 MESSAGE 2 100)" -> { STORAGE = { usage, limit }, ... }
local function resources(list, what)
  if type(list) ~= "table" or #list % 3 ~= 0 then
    malformed(what, "QUOTA resource list")
  end
  local out = {}
  for i = 1, #list, 3 do
    local name, used, limit = list[i], list[i + 1], list[i + 2]
    if type(name) ~= "string" or math.type(used) ~= "integer" or
        math.type(limit) ~= "integer" then
      malformed(what, "QUOTA resource %s", tostring(name))
    end
    out[name:upper()] = { usage = used, limit = limit }
  end
  return out
end

-- The QUOTA responses in data: { [root] = resources }
local function quotas_of(data, what)
  local out = {}
  for _, a in ipairs(args_of(data, "QUOTA")) do
    out[text(a[1], what, "quota root")] = resources(a[2], what)
  end
  return out
end

-- getquota(root) -> { [resource] = { usage = n, limit = n } }; resource
-- names upper case (STORAGE in KiB, MESSAGE, ...).
function Connection:getquota(root)
  local what = "GETQUOTA of " .. q(root)
  if type(root) ~= "string" then usage(what, "quota root must be a string") end
  local _, data = self:run("GETQUOTA", { { str = root } }, what)
  local quotas = quotas_of(data, what)
  if quotas[root] then return quotas[root] end
  local _, only = next(quotas) -- a server that renamed the root
  return only or {}
end

-- getquotaroot(mailbox) -> { roots = { "root", ... }, quotas =
-- { [root] = { [resource] = { usage = n, limit = n } } } }
function Connection:getquotaroot(name)
  local what = "GETQUOTAROOT of " .. q(name)
  local _, data = self:run("GETQUOTAROOT", { mbox(name, what) }, what)
  local roots = {}
  for _, a in ipairs(args_of(data, "QUOTAROOT")) do
    for i = 2, #a do roots[#roots + 1] = text(a[i], what, "quota root") end
  end
  return { roots = roots, quotas = quotas_of(data, what) }
end

-- setquota(root, { STORAGE = 1024, MESSAGE = 500 }) -> the root's quota
-- as the server reports it afterwards ({} when it does not). An empty
-- table removes every limit.
function Connection:setquota(root, limits)
  local what = "SETQUOTA of " .. q(root)
  if type(root) ~= "string" then usage(what, "quota root must be a string") end
  if type(limits) ~= "table" then usage(what, "limits must be a table") end
  local upper = {}
  for k, v in pairs(limits) do
    if type(k) ~= "string" or not k:match("^%a[%w%-]*$") or
        math.type(v) ~= "integer" or v < 0 then
      usage(what, "limits must map resource names to non-negative integers")
    end
    upper[k:upper()] = v
  end
  local list = {}
  for _, k in ipairs(sorted_keys(upper)) do
    list[#list + 1] = k
    list[#list + 1] = upper[k]
  end
  local args = { { str = root }, list }
  if self.intercept then
    return self:intercepted{ command = "SETQUOTA", root = root,
      limits = upper, args = args, what = what }
  end
  local _, data = self:mutate("SETQUOTA", args, what)
  return quotas_of(data, what)[root] or {}
end

---------------------------------------------------------------------------
-- METADATA (RFC 5464)

local function entry_name(e, what)
  if type(e) ~= "string" or not e:match("^/[^%c%s%*%%\128-\255]*$") then
    usage(what, "entry names look like \"/private/comment\", not %s",
      tostring(e))
  end
  return e
end

local function metadata_options(opts, what)
  local list = {}
  if opts.maxsize ~= nil then
    if math.type(opts.maxsize) ~= "integer" or opts.maxsize < 0 then
      usage(what, "maxsize must be a non-negative integer")
    end
    list[#list + 1] = "MAXSIZE"; list[#list + 1] = opts.maxsize
  end
  if opts.depth ~= nil then
    local d = tostring(opts.depth):lower()
    if d ~= "0" and d ~= "1" and d ~= "infinity" then
      usage(what, "depth must be 0, 1 or \"infinity\"")
    end
    list[#list + 1] = "DEPTH"; list[#list + 1] = d
  end
  return list
end

-- getmetadata(mailbox, entries [, { maxsize, depth }]) -> { [entry] =
-- value } (entries without a value are absent), and the size of the
-- longest value left out by maxsize when the server says so.
-- mailbox "" names the server's own entries.
function Connection:getmetadata(name, entries, opts)
  opts = opts or {}
  local what = "GETMETADATA on " .. q(name)
  if type(entries) == "string" then entries = { entries } end
  if type(entries) ~= "table" or #entries == 0 then
    usage(what, "entries must be an entry name or a non-empty array")
  end
  local list = {}
  for i, e in ipairs(entries) do list[i] = { str = entry_name(e, what) } end
  local args = { mbox(name, what, true), list }
  local options = metadata_options(opts, what)
  if #options > 0 then table.insert(args, 1, options) end
  local tagged, data = self:run("GETMETADATA", args, what)
  local out = {}
  for _, a in ipairs(args_of(data, "METADATA")) do
    -- An unsolicited change notice has a bare entry list: skip it.
    local values = type(a[2]) == "table" and a[2] or {}
    for i = 1, #values, 2 do
      local v = values[i + 1]
      if v ~= false then
        out[text(values[i], what, "entry")] = text(v, what, "value")
      end
    end
  end
  local code = tagged.code
  local long = code and code.name == "METADATA" and code.args and
    tostring(code.args[1]):upper() == "LONGENTRIES" and code.args[2]
  return out, math.type(long) == "integer" and long or nil
end

-- setmetadata(mailbox, { [entry] = value }) -> true; a value of false
-- removes the entry (sent as NIL). mailbox "" sets server entries.
function Connection:setmetadata(name, values)
  local what = "SETMETADATA on " .. q(name)
  if type(values) ~= "table" or next(values) == nil then
    usage(what, "values must be a table of entry = value")
  end
  local list = {}
  for _, e in ipairs(sorted_keys(values)) do
    local v = values[e]
    list[#list + 1] = { str = entry_name(e, what) }
    if v == false then
      list[#list + 1] = "NIL"
    elseif type(v) == "string" or math.type(v) == "integer" then
      list[#list + 1] = { qstr = tostring(v) }
    else
      usage(what, "the value of %s must be a string or false", e)
    end
  end
  local args = { mbox(name, what, true), list }
  if self.intercept then
    return self:intercepted{ command = "SETMETADATA", mailbox = name,
      entries = values, args = args, what = what }
  end
  self:mutate("SETMETADATA", args, what)
  return true
end

---------------------------------------------------------------------------
-- ANNOTATEMORE (the draft imaplib speaks; Cyrus)

-- A string or an array of strings as the draft's string or list form.
local function strings_arg(v, label, what)
  if type(v) == "string" then return { qstr = v } end
  if type(v) ~= "table" or #v == 0 then
    usage(what, "%s must be a string or a non-empty array of strings", label)
  end
  local list = {}
  for i, s in ipairs(v) do list[i] = { qstr = nonempty(s, label, what) } end
  return list
end

-- getannotation(mailbox, entry, attribute) -> { [mailbox] = { [entry] =
-- { [attribute] = value } } }; entry and attribute may be arrays, and
-- mailbox a pattern. NIL values are absent.
function Connection:getannotation(name, entry, attribute)
  local what = "GETANNOTATION on " .. q(name)
  local args = { mbox(name, what), strings_arg(entry, "entry", what),
    strings_arg(attribute, "attribute", what) }
  local _, data = self:run("GETANNOTATION", args, what)
  local out = {}
  for _, a in ipairs(args_of(data, "ANNOTATION")) do
    local box = self:decode_name(text(a[1], what, "mailbox"))
    local e = text(a[2], what, "entry")
    local attrs = a[3]
    if type(attrs) ~= "table" then malformed(what, "ANNOTATION values") end
    out[box] = out[box] or {}
    out[box][e] = out[box][e] or {}
    for i = 1, #attrs, 2 do
      if attrs[i + 1] ~= false then
        out[box][e][text(attrs[i], what, "attribute")] =
          text(attrs[i + 1], what, "value")
      end
    end
  end
  return out
end

-- setannotation(mailbox, entry, { [attribute] = value }) -> true; false
-- removes the value (sent as NIL).
function Connection:setannotation(name, entry, values)
  local what = "SETANNOTATION on " .. q(name)
  if type(values) ~= "table" or next(values) == nil then
    usage(what, "values must be a table of attribute = value")
  end
  local list = {}
  for _, k in ipairs(sorted_keys(values)) do
    local v = values[k]
    list[#list + 1] = { qstr = nonempty(k, "attribute", what) }
    if v == false then
      list[#list + 1] = "NIL"
    elseif type(v) == "string" then
      list[#list + 1] = { qstr = v }
    else
      usage(what, "the value of %s must be a string or false", tostring(k))
    end
  end
  local args = { mbox(name, what),
    { qstr = nonempty(entry, "entry", what) }, list }
  if self.intercept then
    return self:intercepted{ command = "SETANNOTATION", mailbox = name,
      entry = entry, values = values, args = args, what = what }
  end
  self:mutate("SETANNOTATION", args, what)
  return true
end

---------------------------------------------------------------------------
-- imaplib's remaining commands

-- proxyauth(user) -> the server's text (Cyrus: act as user from now on)
function Connection:proxyauth(user)
  local what = "PROXYAUTH as " .. q(user)
  local tagged = self:run("PROXYAUTH",
    { { str = nonempty(user, "user", what) } }, what)
  return tagged.text
end

-- imaplib names parts as RFC822 items; a section is what goes between
-- the brackets of BODY[...].
local SECTION_ALIAS = { RFC822 = "", ["RFC822.TEXT"] = "TEXT",
  ["RFC822.HEADER"] = "HEADER" }

local function section_of(s, what)
  s = s or ""
  if type(s) ~= "string" then usage(what, "section must be a string") end
  s = s:upper()
  s = SECTION_ALIAS[s] or s:match("^BODY[%.PEK]*%[(.*)%]$") or s
  if not s:match("^[%w%.%-%(%) ]*$") then
    usage(what, "section must be like \"\", \"TEXT\", \"HEADER\" or \"1.2\"")
  end
  return s
end

-- partial(uid, section, start, length [, opts]) -> up to length bytes of
-- the section ("" the whole message, "TEXT", "1.2", ...) from offset
-- start, or nil when there is no such message. A partial FETCH
-- (BODY.PEEK[section]<start.length>), which sets no \Seen flag, replaces
-- the PARTIAL command that IMAP4rev1 dropped. opts.seq: uid is a
-- sequence number.
function Connection:partial(uid, section, start, length, opts)
  opts = opts or {}
  local what = "PARTIAL"
  if math.type(uid) ~= "integer" or uid < 1 then
    usage(what, "message must be a positive integer")
  end
  if math.type(start) ~= "integer" or start < 0 or
      math.type(length) ~= "integer" or length < 1 then
    usage(what, "start must be >= 0 and length >= 1 (integers)")
  end
  section = section_of(section, what)
  local item = ("BODY.PEEK[%s]<%d.%d>"):format(section, start, length)
  for _, m in ipairs(self:fetch(uid, { item }, { seq = opts.seq })) do
    if (opts.seq and m.seq or m.uid) == uid then
      for s, bytes in pairs(m.body or {}) do
        if s:upper() == section then return bytes end
      end
    end
  end
  return nil
end

-- recent() -> imaplib's recent: the RECENT count from the last untagged
-- RECENT seen; without one, the count a NOOP brings, or nil.
function Connection:recent()
  local list = self:response("RECENT")
  if #list == 0 then
    self:noop()
    list = self:response("RECENT")
  end
  local last = list[#list]
  return last and last.n or nil
end

-- xatom(name, ...) -> tagged, untagged: an extension command the server
-- names in its CAPABILITY. The arguments take the encoder's forms
-- (c/lua_command.h: a string is one value, an atom only when it is one;
-- { str = }, { qstr = }, { mailbox = }, { flag = }, { seqset = }, arrays
-- are lists; { raw = s } is the only way to send s verbatim as syntax,
-- e.g. xatom("XLIST", { qstr = "" }, { raw = "*" })). Since nothing is
-- known of what it does, it goes through the mutating door (a dry run
-- does not send it).
function Connection:xatom(name, ...)
  local what = "XATOM " .. tostring(name)
  if type(name) ~= "string" or not name:match("^%a[%w%-%._]*$") then
    usage(what, "name must be an atom such as \"XLIST\"")
  end
  local args = table.pack(...)
  for i = 1, args.n do
    if args[i] == nil then usage(what, "argument %d is nil", i) end
  end
  args.n = nil
  return self:mutate(name:upper(), #args > 0 and args or nil, name:upper())
end

return Connection
