-- imapsift.imapfilter: imapfilter's method names on Mailbox and
-- MessageSet (is_unseen, contain_from, match_subject, move_messages, ...)
-- and its IMAP{ server, username, password, ssl } constructor, so an
-- imapfilter configuration ports by changing its account lines.

local errors = require "imapsift.error"
local dates = require "imapsift.dates"
local account = require "imapsift.account"
local Mailbox = require("imapsift.mailbox").Mailbox
local msgset = require "imapsift.msgset"
local MessageSet = msgset.MessageSet

local M = {}

-- Searches by criteria table; on a set the result narrows the set (as
-- imapfilter's meta-search does): the search runs in each of its
-- mailboxes and is intersected with it.
local function searcher(make)
  return function(self, ...)
    local c = make(...)
    if getmetatable(self) == MessageSet then
      local out = msgset.new{}
      for _, p in ipairs(self:parts()) do
        out = out + (p.mailbox:search(c) * msgset.new{ p })
      end
      return out
    end
    return self:search(c)
  end
end

local function flag_is(name, v)
  return searcher(function() return { [name] = v } end)
end

local function with(name)
  return searcher(function(v) return { [name] = v } end)
end

-- imapfilter's dates are "DD-Mon-YYYY"; ours are Lua values too.
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
  Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
local function date_of(v)
  if type(v) == "string" then
    local d, mon, y = v:match("^(%d%d?)%-(%a%a%a)%-(%d%d%d%d)$")
    if d and MONTHS[mon] then
      v = ("%s-%02d-%02d"):format(y, MONTHS[mon], tonumber(d))
    end
  end
  return dates.value(v)
end

local function dated(name)
  return searcher(function(v) return { [name] = date_of(v) } end)
end

local A = {
  select_all = searcher(function() return {} end),
  is_seen = flag_is("seen", true), is_unseen = flag_is("seen", false),
  is_answered = flag_is("answered", true),
  is_unanswered = flag_is("answered", false),
  is_flagged = flag_is("flagged", true),
  is_unflagged = flag_is("flagged", false),
  is_deleted = flag_is("deleted", true),
  is_undeleted = flag_is("deleted", false),
  is_draft = flag_is("draft", true), is_undraft = flag_is("draft", false),
  is_new = flag_is("new", true), is_old = flag_is("old", true),
  is_recent = flag_is("recent", true),
  has_keyword = with("keyword"), has_unkeyword = with("unkeyword"),
  is_larger = with("larger"), is_smaller = with("smaller"),
  arrived_before = dated("before"), arrived_on = dated("on"),
  arrived_since = dated("since"),
  sent_before = dated("sent_before"), sent_on = dated("sent_on"),
  sent_since = dated("sent_since"),
  -- imapfilter: older than n days arrived before today minus n days.
  is_older = searcher(function(n) return { before = dates.days_ago(n) } end),
  is_newer = searcher(function(n) return { since = dates.days_ago(n) } end),
  contain_from = with("from"), contain_to = with("to"),
  contain_cc = with("cc"), contain_bcc = with("bcc"),
  contain_subject = with("subject"), contain_body = with("body"),
  contain_message = with("text"),
  contain_field = searcher(function(f, v) return { header = { [f] = v } } end),
}

for name, fn in pairs(A) do
  Mailbox[name] = fn
  MessageSet[name] = fn
end

-- match_*: client-side regular expressions over a header.
local function matcher(field)
  return function(self, pattern)
    local set = getmetatable(self) == MessageSet and self or self:select_all()
    return set:match(field, pattern)
  end
end
for _, f in ipairs{ "from", "to", "cc", "bcc", "subject" } do
  Mailbox["match_" .. f] = matcher(f)
  MessageSet["match_" .. f] = matcher(f)
end
local function match_field(self, field, pattern)
  local set = getmetatable(self) == MessageSet and self or self:select_all()
  return set:match(field, pattern)
end
Mailbox.match_field, MessageSet.match_field = match_field, match_field
Mailbox.match_header, MessageSet.match_header = match_field, match_field

-- Actions: imapfilter calls them on a mailbox with a set
-- (inbox:move_messages(dest, set)) or on a set (set:move_messages(dest)).
local function target(self, set)
  if getmetatable(self) == MessageSet then return self end
  if getmetatable(set) ~= MessageSet then
    errors.usage("imapfilter alias", "needs a message set")
  end
  return set
end

local ACTIONS = {
  move_messages = function(s, dest) return s:move_to(dest) end,
  copy_messages = function(s, dest) return s:copy_to(dest) end,
  delete_messages = function(s) return s:delete() end,
  mark_seen = function(s) s:flag("\\Seen"); return true end,
  unmark_seen = function(s) s:unflag("\\Seen"); return true end,
  mark_unseen = function(s) s:unflag("\\Seen"); return true end,
  mark_answered = function(s) s:flag("\\Answered"); return true end,
  unmark_answered = function(s) s:unflag("\\Answered"); return true end,
  mark_flagged = function(s) s:flag("\\Flagged"); return true end,
  unmark_flagged = function(s) s:unflag("\\Flagged"); return true end,
  mark_deleted = function(s) s:flag("\\Deleted"); return true end,
  unmark_deleted = function(s) s:unflag("\\Deleted"); return true end,
  mark_draft = function(s) s:flag("\\Draft"); return true end,
  unmark_draft = function(s) s:unflag("\\Draft"); return true end,
}

local function each_flag(fn)
  return function(s, flags)
    if type(flags) == "string" then flags = { flags } end
    for _, f in ipairs(flags) do fn(s, f) end
    return true
  end
end
-- Flag changes are queued (sent at the next sync point); like
-- imapfilter's, they answer true, and a failure is the rule's error.
ACTIONS.add_flags = each_flag(function(s, f) s:flag(f) end)
ACTIONS.remove_flags = each_flag(function(s, f) s:unflag(f) end)

for name, fn in pairs(ACTIONS) do
  -- On a set, imapsift's own mark_seen/mark_unseen stay as they are.
  if MessageSet[name] == nil then
    MessageSet[name] = function(self, a) return fn(self, a) end
  end
  Mailbox[name] = function(self, a, b)
    -- mailbox:move_messages(dest, set) / mailbox:mark_seen(set)
    if getmetatable(a) == MessageSet then return fn(a, b) end
    return fn(target(self, b), a)
  end
end

-- IMAP{ server, username, password, port, ssl } -> an Account, as
-- imapfilter's constructor: ssl (any value) means implicit TLS on 993.
function M.IMAP(t)
  if type(t) ~= "table" then
    errors.usage("IMAP", "needs a table { server, username, password }")
  end
  local opts = {}
  for k, v in pairs(t) do opts[k] = v end
  opts.host, opts.server = t.server, nil
  opts.user, opts.username = t.username, nil
  opts.ssl = nil
  if opts.tls == nil then opts.tls = t.ssl and "implicit" or "starttls" end
  return account.new(opts)
end

return M
