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
