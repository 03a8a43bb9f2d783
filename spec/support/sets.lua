-- spec/support/sets.lua: an account of the rules layer on the private
-- Dovecot, logged in as spare user 4, with mailboxes made fresh per spec.

local imapsift = require "imapsift"
local server = require "support.server"

local M = {}

M.USER = server.as(4)

-- account([extra]) -> an imapsift account for the spare user.
function M.account(extra)
  local o = server.opts(extra)
  o.name = "sets"
  return imapsift.account(o)
end

-- traced(acct) -> a table that collects every command line acct sends.
function M.traced(acct)
  local lines = {}
  acct:conn():set_trace(function(dir, line)
    if dir == "C" or dir == ">" then lines[#lines + 1] = line end
  end)
  return lines
end

-- fresh(name, messages) -> UIDs: (re)creates mailbox name holding the
-- given messages (server.message{} tables or strings), via a connection
-- of its own; opts are APPEND's ({ flags, date }) per message in
-- m.append_opts.
function M.fresh(name, messages)
  local imap = server.connect()
  pcall(imap.delete, imap, name)
  imap:create(name)
  local uids = {}
  for i, m in ipairs(messages or {}) do
    local o = type(m) == "table" and m.append_opts or nil
    if type(m) == "table" then m = server.message(m) end
    uids[i] = imap:append(name, m, o).uid
  end
  imap:logout()
  return uids
end

-- drop(name, ...): deletes the mailboxes (cleanup).
function M.drop(...)
  local imap = server.connect()
  for _, name in ipairs{ ... } do pcall(imap.delete, imap, name) end
  imap:logout()
end

return M
