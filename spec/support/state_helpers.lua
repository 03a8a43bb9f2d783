-- spec/support/state_helpers.lua: the fixtures of the incremental-state
-- specs on the private Dovecot: one mailbox of the spec's own that
-- "another client" fills, flags and expunges, and run(), one run of a
-- script with an account of its own whose commands are kept.
local imapsift = require "imapsift"
local server = require "support.server"

local M = {}

-- with_conn(fn) -> fn(imap)'s result, on a connection of the spec's own
-- (the "other client" whose changes a run must see); logs out even when
-- fn fails.
function M.with_conn(fn)
  local imap = server.connect()
  local ok, res = pcall(fn, imap)
  imap:logout()
  assert(ok, res)
  return res
end

-- about_box(sent) -> the commands of a run but logging in and out.
function M.about_box(sent)
  local out = {}
  for _, c in ipairs(sent) do
    if not (c:match("^AUTHENTICATE") or c:match("^LOGIN") or
        c == "LOGOUT") then
      out[#out + 1] = c
    end
  end
  return out
end

-- status_line(box) -> the STATUS command a run sends to look at box.
function M.status_line(box)
  return ("STATUS %s (UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"):format(box)
end

-- box(name, account) -> b, the fixtures for mailbox name and a run's
-- account called account:
--   b.fresh(n) -> UIDs: the mailbox (re)created holding n messages
--   b.append(n) -> UIDs of n more messages
--   b.flag(uids, f): another client sets flag f on uids
--   b.expunge(uids): another client (without QRESYNC) removes uids
--   b.drop(): the mailbox deleted, if it is there
--   b.run(fn) -> the tagged commands sent (tags dropped), fn(mailbox)
--     run on an account of its own, as every scheduled run has
function M.box(name, account)
  local b = {}

  function b.fresh(n)
    return M.with_conn(function(imap)
      pcall(imap.delete, imap, name)
      imap:create(name)
      return n > 0 and server.fill(imap, name, n) or {}
    end)
  end

  function b.append(n)
    return M.with_conn(function(imap) return server.fill(imap, name, n) end)
  end

  function b.flag(uids, f)
    M.with_conn(function(imap)
      imap:select(name)
      imap:store(uids, "+FLAGS", { f })
    end)
  end

  function b.expunge(uids)
    M.with_conn(function(imap)
      imap:select(name)
      imap:store(uids, "+FLAGS", { "\\Deleted" })
      imap:expunge(uids)
    end)
  end

  function b.drop()
    M.with_conn(function(imap) pcall(imap.delete, imap, name) end)
  end

  function b.run(fn)
    local sent = {}
    local acct = imapsift.account(server.opts{ name = account,
      trace = function(dir, line)
        local cmd = (dir == "C" or dir == ">") and line:match("^A%d+ (.*)$")
        if cmd then sent[#sent + 1] = cmd end
      end })
    local ok, err = pcall(fn, acct:mailbox(name))
    acct:logout()
    assert(ok, err)
    return sent
  end

  return b
end

return M
