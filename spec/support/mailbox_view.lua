-- spec/support/mailbox_view.lua: what the action specs read of a mailbox
-- on the private Dovecot through a plain connection of their own (each
-- message's UID, Message-ID and flags), and the message sets they hand
-- to the actions.
local msgset = require "imapsift.msgset"

local M = {}

local ID = "HEADER.FIELDS (MESSAGE-ID)"

-- messages(conn, name [, item]) -> { { uid, id, flags, msg }... } in
-- mailbox order, read-only: id is the Message-ID (<...>), flags the
-- flags but \Recent, sorted; msg the FETCH answer, which holds item too
-- (e.g. "INTERNALDATE") when given.
function M.messages(conn, name, item)
  conn:examine(name)
  local items = { "UID", "FLAGS", "BODY.PEEK[" .. ID .. "]" }
  if item then table.insert(items, 3, item) end
  local out = {}
  for _, m in ipairs(conn:fetch("1:*", items)) do
    local flags = {}
    for _, f in ipairs(m.flags) do
      if f ~= "\\Recent" then flags[#flags + 1] = f end
    end
    table.sort(flags)
    out[#out + 1] = { uid = m.uid, id = m.body[ID]:match("<[^>]*>"),
      flags = flags, msg = m }
  end
  conn:unselect()
  return out
end

-- ids(conn, name) -> the sorted Message-IDs in the mailbox, one per
-- message.
function M.ids(conn, name)
  local out = {}
  for _, m in ipairs(M.messages(conn, name)) do out[#out + 1] = m.id end
  table.sort(out)
  return out
end

-- set_of(acct, conn, name, uids) -> a set of uids in acct's mailbox
-- name, under the UIDVALIDITY conn reads by STATUS.
function M.set_of(acct, conn, name, uids)
  local uv = conn:status(name, { "UIDVALIDITY" }).uidvalidity
  return msgset.new{ { mailbox = acct:mailbox(name), uidvalidity = uv,
    uids = uids } }
end

return M
