-- support/fake_account.lua: rules-layer accounts on scripted fake servers
-- (support.fake): PREAUTH with the capabilities given, INBOX selected (or
-- examined) with UIDVALIDITY 42, then the spec's own steps; and the
-- cleanup a spec runs after each test.
local fake = require "support.fake"
local account = require "imapsift.account"
local plan = require "imapsift.plan"

local M = {}

local CRLF = "\r\n"
local servers, accounts = {}, {}

-- start(caps, more [, examine]) -> account, fake server
function M.start(caps, more, examine)
  local steps = {
    { send = "* PREAUTH [CAPABILITY IMAP4rev1 " .. caps .. "] hi" .. CRLF },
    { recv = examine and "^A1 EXAMINE INBOX\r\n$" or "^A1 SELECT INBOX\r\n$" },
    { send = "* 5 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" },
    { reply = examine and "OK [READ-ONLY] examined" or
      "OK [READ-WRITE] selected" },
  }
  for _, s in ipairs(more) do steps[#steps + 1] = s end
  steps[#steps + 1] = { drain = true }
  local srv = fake.new(steps)
  servers[#servers + 1] = srv
  local acct = account.new(srv:options{ name = "fake" })
  accounts[#accounts + 1] = acct
  return acct, srv
end

-- The steps of one link of start_links: PREAUTH, SELECT INBOX answered
-- with UIDVALIDITY uidvalidity, then the link's own steps.
local function link_steps(caps, uidvalidity, more)
  local steps = {
    { send = "* PREAUTH [CAPABILITY IMAP4rev1 " .. caps .. "] hi" .. CRLF },
    { recv = "^A1 SELECT INBOX\r\n$" },
    { send = ("* 5 EXISTS\r\n* OK [UIDVALIDITY %d] x\r\n"):format(
      uidvalidity) },
    { reply = "OK [READ-WRITE] selected" },
  }
  for _, s in ipairs(more) do steps[#steps + 1] = s end
  if not more.closes then steps[#steps + 1] = { drain = true } end
  return steps
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- start_links(caps, links) -> account, { fake server... }: an account
-- whose first link plays links[1], and each new link after a lost one
-- (a reconnect) the next. A link: { uidvalidity = n (default 42),
-- closes = true (the steps end by closing; no drain), step... }. opts:
-- more account options.
function M.start_links(caps, links, opts)
  local counter = os.tmpname()
  local f = assert(io.open(counter, "w"))
  f:write("1")
  f:close()
  local cases, srvs = {}, {}
  for i, l in ipairs(links) do
    local srv = fake.new(link_steps(caps, l.uidvalidity or 42, l))
    servers[#servers + 1] = srv
    srvs[i] = srv
    cases[#cases + 1] = ("%d) %s;;"):format(i, srv:command())
  end
  local c = quote(counter)
  local cmd = ("n=$(cat %s); echo $((n + 1)) > %s; case $n in %s " ..
    "*) exit 1;; esac"):format(c, c, table.concat(cases, " "))
  servers[#servers + 1] = { cleanup = function() os.remove(counter) end }
  local o = { name = "fake", command = cmd }
  for k, v in pairs(opts or {}) do o[k] = v end
  local acct = account.new(srvs[1]:options(o))
  accounts[#accounts + 1] = acct
  return acct, srvs
end

-- cleanup(): logs out every account started, stops their servers and
-- leaves the plan as a new run finds it.
function M.cleanup()
  for _, a in ipairs(accounts) do pcall(a.logout, a) end
  for _, s in ipairs(servers) do s:cleanup() end
  servers, accounts = {}, {}
  plan.dry_run(false)
  plan.reset()
end

return M
