-- imapsift.testing: testing rules with busted against the project's
-- private Dovecot (scripts/testserver): start it, fill a user's mailboxes
-- from a Lua description of messages (RFC 5322 text, RFC 2047 subjects),
-- hand back an account, and read mailboxes back for assertions.
--
--   local testing = require "imapsift.testing"
--   local user = testing.user(3)            -- a spare user of the server
--   testing.mailboxes(user, { INBOX = {
--     { from = "news@example.com", subject = "Weekly", flags = { "\\Seen" },
--       date = "2024-02-01", headers = { ["List-Id"] = "<x.example.com>" } },
--   } })
--   local account = testing.account(user)
--   ... run the rules ...
--   testing.assert_mailbox(user, "Archive", { "Weekly" })

local imapsift = require "imapsift"
local errors = require "imapsift.error"
local internaldate = require "imapsift.internaldate"

local M = {}

-- Mailboxes the test server's config creates for every user: reset
-- empties them instead of deleting them (scripts/testserver's list).
M.AUTO = { INBOX = true, Drafts = true, Sent = true, Trash = true,
  Junk = true, Archive = true }

local function usage(what, fmt, ...)
  errors.usage("testing." .. what, fmt, ...)
end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- Single-quote s for /bin/sh.
local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- The directory holding this file: lua/imapsift/ in a checkout,
-- share/imapsift/lua/imapsift/ once installed.
local function module_dir()
  local source = debug.getinfo(1, "S").source
  local dir = source:match("^@(.*)/[^/]*$")
  return dir or "."
end

-- script() -> the path of scripts/testserver: $IMAPSIFT_TESTSERVER, else
-- two levels above this module (the checkout's scripts/, or the
-- share/imapsift/scripts/ an installation puts beside lua/).
function M.script()
  local path = os.getenv("IMAPSIFT_TESTSERVER")
  if path == nil or path == "" then
    path = module_dir() .. "/../../scripts/testserver"
  end
  if not file_exists(path) then
    errors.raise{ kind = "testserver", command = "testing.server",
      text = "no test server script at " .. path ..
        " (set IMAPSIFT_TESTSERVER to scripts/testserver)" }
  end
  return path
end

-- The state directory to ask for: $IMAPSIFT_TESTDIR (the script reads
-- it itself), a checkout's build/testserver (the script's default), or,
-- for an installed script whose share/ may not be writable, one under
-- the user's state home.
local function state_dir(script)
  local dir = os.getenv("IMAPSIFT_TESTDIR")
  if dir and dir ~= "" then return nil end
  local root = script:match("^(.*)/scripts/[^/]*$") or "."
  if file_exists(root .. "/CMakeLists.txt") then return nil end
  local base = os.getenv("XDG_STATE_HOME")
  if base == nil or base == "" then
    base = (os.getenv("HOME") or "/tmp") .. "/.local/state"
  end
  return base .. "/imapsift/testserver"
end

-- run(command) -> its output; raises kind "testserver" with the output
-- when it fails.
local function run(command, what)
  local p = assert(io.popen(command .. " 2>&1", "r"))
  local out = p:read("a")
  local ok, _, status = p:close()
  if not ok then
    errors.raise{ kind = "testserver", command = what,
      text = ("exit status %s: %s"):format(tostring(status), out) }
  end
  return out
end

-- The `export NAME='value'` lines of `testserver env` as a table (a
-- quote inside a value comes as '\'').
local function parse_env(out)
  local vars = {}
  for name, value in out:gmatch("export ([%w_]+)='([^\n]*)'\n") do
    vars[name] = value:gsub("'\\''", "'")
  end
  return vars
end

local function server_of(vars, script)
  local need = { "IMAPSIFT_HOST", "IMAPSIFT_IMAPS_PORT", "IMAPSIFT_CA",
    "IMAPSIFT_SPARE_USERS", "IMAPSIFT_USER", "IMAPSIFT_PASSWORD" }
  for _, name in ipairs(need) do
    if not vars[name] then
      errors.raise{ kind = "testserver", command = "testserver env",
        text = "no " .. name .. " in its output" }
    end
  end
  local s = { script = script, host = vars.IMAPSIFT_HOST,
    imap_port = math.tointeger(vars.IMAPSIFT_IMAP_PORT),
    imaps_port = math.tointeger(vars.IMAPSIFT_IMAPS_PORT),
    ca = vars.IMAPSIFT_CA, testdir = vars.IMAPSIFT_TESTDIR,
    doveadm = vars.IMAPSIFT_DOVEADM, env = vars,
    passwords = { [vars.IMAPSIFT_USER] = vars.IMAPSIFT_PASSWORD },
    spare = {} }
  if vars.IMAPSIFT_USER2 then
    s.passwords[vars.IMAPSIFT_USER2] = vars.IMAPSIFT_PASSWORD2
  end
  for user, pw in vars.IMAPSIFT_SPARE_USERS:gmatch("([^%s:]+):(%S+)") do
    s.spare[#s.spare + 1] = user
    s.passwords[user] = pw
  end
  return s
end

local current -- the server table, once started in this process

-- server() -> { host, imap_port, imaps_port, ca, testdir, doveadm,
-- passwords = { [user] = password }, spare = { user names }, script,
-- env = { IMAPSIFT_* } }: starts the private Dovecot (or finds it
-- running: `start` is idempotent) and reads its settings.
function M.server()
  if current then return current end
  local script = M.script()
  local dir = state_dir(script)
  local tail = dir and (" " .. shquote(dir)) or ""
  run(shquote(script) .. " start" .. tail, "testserver start")
  local out = run(shquote(script) .. " env" .. tail, "testserver env")
  current = server_of(parse_env(out), script)
  return current
end

-- user(i) -> the name of the server's spare user i (1..14). A spec file
-- that uses spare user i only can run beside the others.
function M.user(i)
  local name = M.server().spare[i]
  if not name then usage("user", "no spare user %s", tostring(i)) end
  return name
end

-- options(user [, extra]) -> connect options for user over implicit TLS
-- with the test CA, extra's fields added.
function M.options(user, extra)
  local s = M.server()
  local pw = s.passwords[user]
  if not pw then usage("options", "%s is not a test user", tostring(user)) end
  local o = { host = s.host, port = s.imaps_port, tls = "implicit",
    ca_file = s.ca, user = user, password = pw, timeout = 20 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- connect(user [, extra]) -> a logged-in connection object.
function M.connect(user, extra)
  return imapsift.connect(M.options(user, extra))
end

-- account(user [, opts]) -> an account of the rules layer
-- (imapsift.account) for user; opts (create, name, ...) added.
function M.account(user, opts)
  if imapsift.account then
    return imapsift.account(M.options(user, opts))
  end
  return M.connect(user, opts)
end

-- Filling mailboxes ----------------------------------------------------

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
  "Sep", "Oct", "Nov", "Dec" }

-- epoch(v) -> epoch seconds for a message's date: epoch seconds, or
-- "YYYY-MM-DD" (UTC midnight); nil means now.
local function epoch(v, what)
  if v == nil then return os.time() end
  local n = math.tointeger(v)
  if n then return n end
  local y, m, d = tostring(v):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  local month = m and MONTHS[tonumber(m)]
  if not month then
    usage("mailboxes", "%s: date must be epoch seconds or YYYY-MM-DD", what)
  end
  return internaldate.parse(('"%s-%s-%s 00:00:00 +0000"'):format(d, month, y))
end

-- RFC 2047 Q-encoding of a header text that is not plain ASCII, so that
-- the message stays valid RFC 5322 and reads back decoded.
local function encode_word(text)
  if not text:find("[\128-\255]") then return text end
  local q = text:gsub("[^%w!*+/-]", function(c)
    return c == " " and "_" or ("=%02X"):format(c:byte())
  end)
  return "=?UTF-8?Q?" .. q .. "?="
end

local serial = 0

-- The header lines a message description adds: an array of "Name: value"
-- lines, or a table { Name = value } (sent in name order).
local function extra_headers(headers, lines)
  local names = {}
  for k, v in pairs(headers or {}) do
    if math.type(k) == "integer" then
      lines[#lines + 1] = v
    else
      names[#names + 1] = k
    end
  end
  table.sort(names)
  for _, k in ipairs(names) do
    lines[#lines + 1] = k .. ": " .. encode_word(headers[k])
  end
end

-- message(m, user) -> the RFC 5322 text of a message description and
-- its date in epoch seconds.
function M.message(m, user, what)
  local t = epoch(m.date, what or "message")
  serial = serial + 1
  local lines = {
    "From: " .. (m.from or "Sender <sender@example.org>"),
    "To: " .. (m.to or ((user or "user") .. "@example.org")),
    "Subject: " .. encode_word(m.subject or "(no subject)"),
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000", t),
    "Message-ID: " .. (m.message_id or ("<%d.%d.%d@testing.imapsift>")
      :format(serial, os.time(), math.random(1 << 30))),
  }
  if m.cc then lines[#lines + 1] = "Cc: " .. m.cc end
  extra_headers(m.headers, lines)
  if (m.body or ""):find("[\128-\255]") then
    lines[#lines + 1] = "MIME-Version: 1.0"
    lines[#lines + 1] = "Content-Type: text/plain; charset=UTF-8"
    lines[#lines + 1] = "Content-Transfer-Encoding: 8bit"
  end
  local body = (m.body or "Hello.\n"):gsub("\r?\n", "\r\n")
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body, t
end

-- empty_account(imap): empties the logged-in user's account: deletes
-- every mailbox but the automatic ones (children first), drops other
-- subscriptions, expunges the rest. Leaves imap authenticated.
function M.empty_account(imap)
  if imap.mailbox then imap:unselect() end
  local names = {}
  for _, mb in ipairs(imap:list("", "*")) do
    if not M.AUTO[mb.name] then names[#names + 1] = mb.name end
  end
  table.sort(names, function(a, b) return a > b end)
  for _, name in ipairs(names) do imap:delete(name) end
  for _, mb in ipairs(imap:lsub("", "*")) do
    if not M.AUTO[mb.name] then imap:unsubscribe(mb.name) end
  end
  for name in pairs(M.AUTO) do
    if imap:select(name).exists > 0 then
      -- The test user's own mailbox: a plain EXPUNGE is what is wanted.
      imap:store("1:*", "+FLAGS.SILENT", { "\\Deleted" }, { seq = true })
      imap:expunge()
    end
    imap:unselect()
  end
end

local function fill(imap, user, name, messages)
  if type(messages) ~= "table" then
    usage("mailboxes", "mailbox %s: an array of messages expected", name)
  end
  if not M.AUTO[name] then imap:create(name) end
  local uids = {}
  for i, m in ipairs(messages) do
    local what = ("%s[%d]"):format(name, i)
    local text, t
    if type(m) == "string" then
      text, t = m:gsub("\r?\n", "\r\n"), os.time()
    elseif type(m) == "table" then
      text, t = M.message(m, user, what)
    else
      usage("mailboxes", "%s: a table or the text of a message expected", what)
    end
    local r = imap:append(name, text,
      { flags = type(m) == "table" and m.flags or nil, date = t })
    uids[i] = type(r) == "table" and r.uid or nil
  end
  return uids
end

-- mailboxes(user, { [mailbox] = { message, ... } }) -> { [mailbox] =
-- UIDs }: empties user's account, then creates the mailboxes named and
-- appends their messages in order. A message is the text of one, or a
-- table { from, to, cc, subject, date, flags, body, headers, message_id }
-- (date: epoch seconds or "YYYY-MM-DD", also the internal date; subject
-- and header values may be UTF-8).
function M.mailboxes(user, desc)
  if type(desc) ~= "table" then usage("mailboxes", "a table expected") end
  local imap = M.connect(user)
  local ok, result = pcall(function()
    M.empty_account(imap)
    local names, uids = {}, {}
    for name in pairs(desc) do names[#names + 1] = name end
    table.sort(names) -- parents before their children
    for _, name in ipairs(names) do
      uids[name] = fill(imap, user, name, desc[name])
    end
    return uids
  end)
  imap:logout()
  if not ok then error(result, 0) end
  return result
end

-- Reading mailboxes ----------------------------------------------------

local function address(list)
  local a = list and list[1]
  if not a or not a.mailbox then return nil end
  return a.host and (a.mailbox .. "@" .. a.host) or a.mailbox
end

local function entry(m)
  local flags = {}
  for _, f in ipairs(m.flags or {}) do
    if f ~= "\\Recent" then flags[#flags + 1] = f end
  end
  table.sort(flags)
  local env = m.envelope or {}
  return { uid = m.uid, subject = imapsift.mime.decode(env.subject or ""),
    from = address(env.from), flags = flags }
end

-- contents(user, mailbox) -> array of { uid, subject (decoded), from
-- ("a@b"), flags (sorted, without \Recent) } in UID order, read without
-- changing anything (EXAMINE); nil when the mailbox does not exist.
function M.contents(user, name)
  local imap = M.connect(user)
  local ok, result = pcall(function()
    if #imap:list("", name) == 0 then return nil end
    local list = {}
    if imap:examine(name).exists > 0 then
      for _, m in ipairs(imap:fetch("1:*", { "FLAGS", "ENVELOPE" })) do
        list[#list + 1] = entry(m)
      end
    end
    table.sort(list, function(a, b) return a.uid < b.uid end)
    return list
  end)
  imap:logout()
  if not ok then error(result, 0) end
  return result
end

local function sorted_subjects(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = type(v) == "table" and v.subject or v end
  table.sort(s)
  return s
end

local function show(list)
  local q = {}
  for i, s in ipairs(list) do q[i] = ("%q"):format(s) end
  return "{ " .. table.concat(q, ", ") .. " }"
end

-- assert_mailbox(user, mailbox, { subject, ... }) -> contents: fails
-- (raises, naming both lists) unless the mailbox holds exactly messages
-- with these subjects, in any order.
function M.assert_mailbox(user, name, subjects)
  local list = M.contents(user, name)
  if list == nil then
    error(("mailbox %s of %s does not exist"):format(name, user), 2)
  end
  local want, got = sorted_subjects(subjects), sorted_subjects(list)
  if show(want) ~= show(got) then
    error(("mailbox %s of %s: expected subjects %s, found %s")
      :format(name, user, show(want), show(got)), 2)
  end
  return list
end

-- has_flag(entry, flag) -> true when a contents() entry carries flag.
function M.has_flag(e, flag)
  for _, f in ipairs(e.flags) do
    if f:lower() == flag:lower() then return true end
  end
  return false
end

return M
