-- imapsift.mailbox: a mailbox of an account: selecting it (EXAMINE in a
-- dry run), checking that its UIDVALIDITY is still the one a message set
-- was taken with (RFC 9051 2.3.1.1), and searching it into MessageSets.

local errors = require "imapsift.error"
local criteria = require "imapsift.criteria"
local account = require "imapsift.account"

local M = {}

local Mailbox = {}
Mailbox.__index = Mailbox
M.Mailbox = Mailbox

-- new(acct, name) -> Mailbox; use account:mailbox(name), which caches.
function M.new(acct, name)
  return setmetatable({ account = acct, name = name }, Mailbox)
end

local function is_dry()
  local p = account.plan()
  return p ~= nil and p.is_dry()
end

-- select([readonly]) -> the connection's box table. EXAMINE when
-- readonly or in a dry run; nothing is sent when the mailbox is already
-- selected in a mode that serves (read-write serves reading too, except
-- in a dry run).
function Mailbox:select(readonly)
  local ro = readonly and true or is_dry()
  return self.account:read(function(c)
    local box = c.mailbox
    if box and box.name == self.name and box.uidvalidity and
        (box.readonly == ro or (ro and not is_dry())) then
      return box
    end
    return c:select(self.name, { readonly = ro })
  end)
end

-- ensure(uidvalidity [, readonly]) -> box: selects, and raises kind
-- "uidvalidity" (mailbox, old, new) when the mailbox's UIDVALIDITY is no
-- longer uidvalidity: UIDs taken before then name other messages.
function Mailbox:ensure(uidvalidity, readonly)
  local box = self:select(readonly)
  if box.uidvalidity ~= uidvalidity then
    errors.raise{ kind = "uidvalidity", command = "SELECT " .. self.name,
      mailbox = self.name, old = uidvalidity, new = box.uidvalidity,
      text = ("UIDVALIDITY of %s changed from %s to %s: the message set " ..
        "is stale"):format(self.name, tostring(uidvalidity),
        tostring(box.uidvalidity)) }
  end
  return box
end

-- Criteria: a table of named criteria (criteria.lua) or, as an escape,
-- search.lua's array form ({ "UNSEEN", "FROM", "x" }).
local function keys_of(c)
  if c == nil then return { "ALL" } end
  if type(c) == "table" and type(c[1]) == "string" then return c end
  return criteria.keys(c)
end

-- search(criteria) -> MessageSet of the matching messages.
function Mailbox:search(c)
  local keys = keys_of(c)
  local uv, uids = self.account:read(function(conn)
    local box = self:select()
    return box.uidvalidity, conn:search(keys)
  end)
  local p = account.plan()
  if p then p.count("examined", #uids) end -- the run summary's figure
  return require("imapsift.msgset").new{
    { mailbox = self, uidvalidity = uv, uids = uids } }
end

function Mailbox:select_all() return self:search{} end

-- exists() -> whether the server has a mailbox of exactly this name
-- (LIST reads * and % in it as wildcards, so names are compared).
function Mailbox:exists()
  return self.account:read(function(c)
    for _, mb in ipairs(c:list("", self.name)) do
      if mb.name == self.name then return true end
    end
    return false
  end)
end

-- create(): CREATE it (planned only in a dry run).
function Mailbox:create()
  return self.account:write(function(c) return c:create(self.name) end)
end

function Mailbox:__tostring()
  return ("mailbox %s of %s"):format(self.name, self.account.name)
end

return M
