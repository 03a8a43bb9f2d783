-- spec/msgset_spec.lua: message sets as values (lua/imapsift/msgset.lua):
-- + * - per mailbox, #set, uids(), UIDVALIDITY kept and checked.
local msgset = require "imapsift.msgset"
local errors = require "imapsift.error"
local sets = require "support.sets"
-- Spare user 4, as in support/sets.lua; ctest locks the user per file.
local server = require "support.server"
server.as(4)

local A = { name = "A" }
local B = { name = "B" }

local function set(mb, uids, uv)
  return msgset.new{ { mailbox = mb, uidvalidity = uv or 7, uids = uids } }
end

local function uids_of(s, mb)
  for _, p in ipairs(s:parts()) do
    if p.mailbox == mb then return p.uids end
  end
  return {}
end

describe("MessageSet algebra", function()
  it("unites, intersects and subtracts per mailbox", function()
    local x, y = set(A, { 1, 3, 5, 7 }), set(A, { 3, 4, 5, 9 })
    assert.same({ 1, 3, 4, 5, 7, 9 }, (x + y):uids())
    assert.same({ 3, 5 }, (x * y):uids())
    assert.same({ 1, 7 }, (x - y):uids())
    assert.same({ 4, 9 }, (y - x):uids())
    assert.equal(6, #(x + y))
  end)

  it("keeps one part per mailbox for sets spanning several", function()
    local s = set(A, { 1, 2 }) + set(B, { 2, 3 })
    assert.equal(2, #s:parts())
    assert.equal(4, #s)
    assert.same({ 1, 2 }, uids_of(s, A))
    assert.same({ 2, 3 }, uids_of(s, B))
    assert.equal(0, #(set(A, { 1, 2 }) * set(B, { 1, 2 })))
    local d = s - set(B, { 3 })
    assert.same({ 1, 2 }, uids_of(d, A))
    assert.same({ 2 }, uids_of(d, B))
    local i = s * (set(A, { 2 }) + set(B, { 2, 9 }))
    assert.same({ 2 }, uids_of(i, A))
    assert.same({ 2 }, uids_of(i, B))
  end)

  it("uids() refuses a set of several mailboxes, naming them", function()
    local ok, err = pcall(function() return (set(A, { 1 }) + set(B, { 1 })):uids() end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
    assert.truthy(tostring(err):find("A, B", 1, true))
    assert.same({}, msgset.new{}:uids())
  end)

  it("refuses to combine one mailbox's sets of different UIDVALIDITY", function()
    for _, op in ipairs{ "__add", "__mul", "__sub" } do
      local ok, err = pcall(msgset.MessageSet[op], set(A, { 1 }, 7), set(A, { 1 }, 8))
      assert.is_false(ok)
      assert.is_true(errors.is(err, "uidvalidity"), tostring(err))
      assert.equal("A", err.mailbox)
    end
  end)

  it("refuses malformed parts", function()
    local ok, err = pcall(msgset.new, { { mailbox = A, uids = {} } })
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
  end)
end)

describe("MessageSet from Dovecot", function()
  local acct, one, two, u1, u2

  setup(function()
    u1 = sets.fresh("r2-set-one", { { subject = "alpha" }, { subject = "beta" },
      { subject = "alpha beta" } })
    u2 = sets.fresh("r2-set-two", { { subject = "alpha" }, { subject = "gamma" } })
    acct = sets.account()
    one, two = acct:mailbox("r2-set-one"), acct:mailbox("r2-set-two")
  end)

  teardown(function()
    acct:logout()
    sets.drop("r2-set-one", "r2-set-two")
  end)

  it("combines searches with + * -", function()
    local a, b = one:search{ subject = "alpha" }, one:search{ subject = "beta" }
    assert.same({ u1[1], u1[2], u1[3] }, (a + b):uids())
    assert.same({ u1[3] }, (a * b):uids())
    assert.same({ u1[1] }, (a - b):uids())
    local both = a + two:search{ subject = "alpha" }
    assert.equal(3, #both)
    assert.same({ u2[1] }, uids_of(both, two))
    assert.equal(two:search{}:parts()[1].uidvalidity, both:parts()[2].uidvalidity)
  end)

  it("counts what a rule's searches found as examined in the summary",
      function()
    local plan = require "imapsift.plan"
    plan.reset()
    plan.rule("count", function()
      one:search{ subject = "alpha" }
      two:search{}
    end)
    local rows = plan.summary()
    local row
    for _, r in ipairs(rows) do if r.rule == "count" then row = r end end
    assert.equal(2 + 2, row.examined)
    plan.reset()
  end)

  it("refuses to act on a set after the mailbox's UIDVALIDITY changed", function()
    -- A search is sent when its set is first used (#): taken now.
    local old = two:search{ subject = "gamma" }
    assert.equal(1, #old)
    assert.equal(3, #one:search{}) -- another mailbox is selected now
    sets.fresh("r2-set-two", { { subject = "gamma" } }) -- recreated: new UIDVALIDITY
    local ok, err = pcall(function()
      return two:ensure(old:parts()[1].uidvalidity)
    end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "uidvalidity"), tostring(err))
    assert.equal("r2-set-two", err.mailbox)
    ok, err = pcall(function() return old:messages{ "subject" } end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "uidvalidity"), tostring(err))
    local fresh = two:search{ subject = "gamma" }
    ok, err = pcall(function() return old + fresh end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "uidvalidity"), tostring(err))
  end)
end)
