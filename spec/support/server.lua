-- spec/support/server.lua: the private Dovecot for the integration specs.
-- Reads the IMAPSIFT_* environment written by `scripts/testserver env`
-- and fails loudly when it is missing (an integration spec that cannot
-- reach its server is a failure, never a skip). Offers connect() for
-- alice, reset() to empty her mailboxes, and message()/append() to put
-- sample mail in them.

local imapsift = require "imapsift"

local M = {}

local HINT = "start the test server and export its settings first:\n" ..
  "  scripts/testserver start && eval \"$(scripts/testserver env)\""

-- env(name) -> the value of IMAPSIFT_<name>; raises when unset.
function M.env(name)
  local full = "IMAPSIFT_" .. name
  local v = os.getenv(full)
  if v == nil or v == "" then
    error(("integration specs need %s, which is not set: %s")
      :format(full, HINT), 2)
  end
  return v
end

local function port(name)
  local p = tonumber(M.env(name))
  if math.type(p) ~= "integer" then
    error(("IMAPSIFT_%s is not a port number"):format(name), 3)
  end
  return p
end

-- Everything is read when the helper loads, so a missing variable stops
-- the spec file at once with the hint above.
M.host = M.env("HOST")
M.imap_port = port("IMAP_PORT")
M.imaps_port = port("IMAPS_PORT")
M.ca = M.env("CA")
M.user, M.password = M.env("USER"), M.env("PASSWORD")
M.user2, M.password2 = M.env("USER2"), M.env("PASSWORD2")
M.dovecot_imap = M.env("DOVECOT_IMAP")
M.doveadm = M.env("DOVEADM")
M.testdir = M.env("TESTDIR")

-- Spare users, so that a spec file can have mailboxes of its own and run
-- beside the others: spare[1] = { user = "carol", password = "carol-pw" }.
M.spare = {}
for user, password in M.env("SPARE_USERS"):gmatch("([^%s:]+):(%S+)") do
  M.spare[#M.spare + 1] = { user = user, password = password }
end

-- as(i): from now on opts()/connect() log in as spare user i (1..20).
function M.as(i)
  local u = assert(M.spare[i], "no spare user " .. tostring(i))
  M.user, M.password = u.user, u.password
  return u.user
end

-- Mailboxes the server's config creates for every user; reset() empties
-- them instead of deleting them.
M.AUTO = require("imapsift.testing").AUTO

-- A value for opts()/connect() that removes a default option, e.g.
-- connect{ user = server.UNSET, password = server.UNSET }.
M.UNSET = setmetatable({}, { __tostring = function() return "UNSET" end })

-- opts(extra) -> connect options for alice over implicit TLS, with the
-- fields of extra added (or replacing the defaults, or removing them).
function M.opts(extra)
  local o = { host = M.host, port = M.imaps_port, tls = "implicit",
    ca_file = M.ca, user = M.user, password = M.password, timeout = 20 }
  for k, v in pairs(extra or {}) do
    if v == M.UNSET then o[k] = nil else o[k] = v end
  end
  return o
end

-- connect_anonymous(extra) -> a connection that has not logged in.
function M.connect_anonymous(extra)
  local o = { user = M.UNSET, password = M.UNSET }
  for k, v in pairs(extra or {}) do o[k] = v end
  return M.connect(o)
end

-- connect(extra) -> a logged-in connection for alice.
function M.connect(extra)
  return imapsift.connect(M.opts(extra))
end

-- reset([imap]): delete every mailbox of alice but the automatic ones,
-- unsubscribe from everything else, and empty the rest. Uses imap (left
-- in the authenticated state) or a connection of its own.
function M.reset(imap)
  local own = imap == nil
  imap = imap or M.connect()
  require("imapsift.testing").empty_account(imap)
  if own then imap:logout() end
end

-- message{ from, to, subject, body, date, headers, message_id } -> an
-- RFC 5322 message with CRLF line ends. Defaults make a small valid one.
function M.message(m)
  m = m or {}
  local lines = {
    "From: " .. (m.from or "Sender <sender@example.org>"),
    "To: " .. (m.to or "Alice <alice@example.org>"),
    "Subject: " .. (m.subject or "test message"),
    "Date: " .. (m.date or "Mon, 1 Jan 2024 10:00:00 +0000"),
    "Message-ID: " .. (m.message_id or "<" .. tostring({}):match("0x(%x+)")
      .. "." .. os.time() .. "@example.org>"),
  }
  for _, h in ipairs(m.headers or {}) do lines[#lines + 1] = h end
  local body = (m.body or "Hello.\r\n"):gsub("\r?\n", "\r\n")
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

-- append(imap, mailbox, messages [, opts]) -> array of the UIDs given by
-- APPENDUID, one per message (strings, or tables for message()).
function M.append(imap, mailbox, messages, opts)
  local uids = {}
  for i, m in ipairs(messages) do
    if type(m) == "table" then m = M.message(m) end
    local r = imap:append(mailbox, m, opts)
    assert(type(r) == "table" and r.uid, "APPEND gave no APPENDUID")
    uids[i] = r.uid
  end
  return uids
end

-- fill(imap, mailbox, n [, fn]) -> UIDs of n appended messages; fn(i)
-- may return the message{} fields of the i-th.
function M.fill(imap, mailbox, n, fn)
  local list = {}
  for i = 1, n do
    list[i] = fn and fn(i) or { subject = "message " .. i,
      message_id = ("<fill-%d-%d@example.org>"):format(i, os.time()) }
  end
  return M.append(imap, mailbox, list)
end

return M
