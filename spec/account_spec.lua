-- spec/account_spec.lua: accounts (lua/imapsift/account.lua) and their
-- mailboxes (lua/imapsift/mailbox.lua): lazy connection, reconnection
-- with a read-only step retried and a mutating one never, logout at the
-- end of the script, mailbox selection and UIDVALIDITY checks.
local imapsift = require "imapsift"
local errors = require "imapsift.error"
local sets = require "support.sets"
local server = require "support.server"
server.as(4)

local BOX = "r2-account"

describe("accounts", function()
  local u

  setup(function() u = sets.fresh(BOX, { { subject = "one" }, { subject = "two" } }) end)
  teardown(function() sets.drop(BOX, "r2-account-new") end)

  it("connects on first use only, and names itself", function()
    local acct = sets.account()
    assert.is_false(rawget(acct, "link"))
    assert.equal("sets", acct.name)
    local anon = imapsift.account{ host = "mail.example.org", user = "me" }
    assert.equal("me@mail.example.org", anon.name)
    anon:logout()
    assert.equal(2, #acct[BOX]:select_all())
    assert.equal("SELECTED", acct:conn():state())
    acct:logout()
  end)

  it("gives one Mailbox per name, by method, field or index", function()
    local acct = sets.account()
    assert.equal(acct:mailbox("INBOX"), acct.INBOX)
    assert.equal(acct:mailbox("Lists/lua-l"), acct["Lists/lua-l"])
    assert.equal("Lists/lua-l", acct["Lists/lua-l"].name)
    assert.equal(acct, acct.INBOX.account)
    local ok, err = pcall(acct.mailbox, acct, "")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
    acct:logout()
  end)

  it("reconnects after a dropped link and retries a reading step", function()
    local acct = sets.account()
    local box = acct:mailbox(BOX)
    box:select()
    acct:conn():drop("cut by the spec")
    assert.same(u, box:select_all():uids()) -- a new link, re-selected
    local tries = 0
    local got = acct:read(function(c)
      tries = tries + 1
      if tries == 1 then c:drop("cut while reading") end
      return c:search{ "ALL" }
    end)
    assert.equal(2, tries)
    assert.same(u, got)
    acct:logout()
  end)

  it("never repeats a mutating step after a lost link", function()
    local acct = sets.account()
    acct:mailbox(BOX):select()
    local tries = 0
    local ok, err = pcall(acct.write, acct, function(c)
      tries = tries + 1
      c:drop("cut while writing")
      return c:store(u, "+FLAGS", { "\\Flagged" })
    end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "closed"), tostring(err))
    assert.equal(1, tries)
    assert.equal(0, #acct:mailbox(BOX):search{ flagged = true }) -- usable again
    acct:logout()
  end)

  it("selects once, EXAMINEs when asked, checks UIDVALIDITY", function()
    local acct = sets.account()
    local box = acct:mailbox(BOX)
    local sent = {}
    acct:conn():set_trace(function(dir, line)
      if dir == "C" or dir == ">" then sent[#sent + 1] = line end
    end)
    local b = box:select()
    assert.is_false(b.readonly)
    box:select(); box:select(true) -- served by the read-write selection
    local selects = 0
    for _, l in ipairs(sent) do
      if l:find(" SELECT ", 1, true) then selects = selects + 1 end
    end
    assert.equal(1, selects)
    acct:mailbox("INBOX"):select(true)
    assert.is_true(acct:conn().mailbox.readonly)
    assert.equal(b.uidvalidity, box:ensure(b.uidvalidity).uidvalidity)
    local ok, err = pcall(box.ensure, box, b.uidvalidity + 1)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "uidvalidity"))
    assert.equal(BOX, err.mailbox)
    assert.equal(b.uidvalidity + 1, err.old)
    assert.equal(b.uidvalidity, err.new)
    acct:logout()
  end)

  it("EXAMINEs instead of SELECTing in a dry run", function()
    local plan = require "imapsift.plan"
    local acct = sets.account()
    plan.dry_run(true)
    local ok, box = pcall(function() return acct:mailbox(BOX):select() end)
    plan.dry_run(false)
    assert(ok, tostring(box))
    assert.is_true(box.readonly)
    assert.is_false(acct:mailbox(BOX):select().readonly) -- not dry: SELECT
    acct:logout()
  end)

  it("lists, checks and creates mailboxes", function()
    local acct = sets.account()
    local names = acct:list()
    local seen = {}
    for _, n in ipairs(names) do seen[n] = true end
    assert.is_true(seen[BOX])
    local new = acct:mailbox("r2-account-new")
    assert.is_false(new:exists())
    new:create()
    assert.is_true(new:exists())
    assert.is_false(acct:mailbox("r2-account-n%"):exists()) -- no wildcards
    acct:logout()
  end)

  it("logs every open account out at the end (finish, <close>)", function()
    local a, b = sets.account(), sets.account()
    local ca, cb = a:conn(), b:conn()
    imapsift.finish()
    assert.equal("LOGOUT", ca:state())
    assert.equal("LOGOUT", cb:state())
    local c
    do
      local scoped <close> = sets.account()
      c = scoped:conn()
      assert.equal("AUTH", c:state())
    end
    assert.equal("LOGOUT", c:state())
  end)
end)
