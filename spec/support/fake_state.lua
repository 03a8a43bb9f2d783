-- spec/support/fake_state.lua: the incremental state on scripted fake
-- servers (support.fake): a state directory and plan of the spec's own
-- around each test (support.util's state_sandbox), the INBOX as an
-- earlier run recorded it, and accounts called "fake" whose servers
-- PREAUTH with the capabilities given before the spec's steps.
local fake = require "support.fake"
local util = require "support.util"
local account = require "imapsift.account"
local state = require "imapsift.state"
local plan = require "imapsift.plan"

local M = {}

local CRLF = "\r\n"
local servers, accounts, sandbox = {}, {}

-- begin(): a fresh state directory with nothing pending, and a real run's
-- plan whose log lines are kept aside. Call it from before_each.
function M.begin()
  sandbox = util.state_sandbox(state, plan)
end

-- finish(): shuts every account's link and server started, and undoes
-- begin(). Call it from after_each.
function M.finish()
  for _, a in ipairs(accounts) do
    local conn = rawget(a, "link")
    if conn then conn:shutdown() end
  end
  for _, s in ipairs(servers) do s:cleanup() end
  servers, accounts = {}, {}
  util.state_restore(sandbox, state, plan)
end

-- recorded([fields]): INBOX of account "fake" as an earlier run recorded
-- it (UIDVALIDITY 42, last UID 10, UIDNEXT 11), fields added or replacing.
function M.recorded(fields)
  local r = { account = "fake", mailbox = "INBOX", uidvalidity = 42,
    last_uid = 10, uidnext = 11 }
  for k, v in pairs(fields or {}) do r[k] = v end
  state.record(r)
  state.commit()
end

-- start(caps, steps) -> account, server: PREAUTH with "IMAP4rev1" .. caps
-- (caps starts with a space, or is ""), then the steps, then a drain.
function M.start(caps, steps)
  local all = { { send = "* PREAUTH [CAPABILITY IMAP4rev1" .. caps ..
    "] hi" .. CRLF } }
  for _, s in ipairs(steps) do all[#all + 1] = s end
  all[#all + 1] = { drain = true }
  local srv = fake.new(all)
  servers[#servers + 1] = srv
  local acct = account.new(srv:options{ name = "fake" })
  accounts[#accounts + 1] = acct
  return acct, srv
end

-- selected(uidnext [, modseq]) -> what a server says on selecting the
-- recorded INBOX: 10 EXISTS, UIDVALIDITY 42, UIDNEXT and HIGHESTMODSEQ.
function M.selected(uidnext, modseq)
  return "* 10 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n* OK [UIDNEXT " ..
    uidnext .. "] x\r\n" .. (modseq and ("* OK [HIGHESTMODSEQ " ..
    modseq .. "] x\r\n") or "")
end

return M
