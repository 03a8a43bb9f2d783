-- Specs for lua/imapsift/actions.lua against the private Dovecot: moves,
-- copies, deletes and flag changes within an account, moves between two
-- accounts that never duplicate or lose a message, and dry runs that
-- leave every mailbox as it was and plan exactly what the real run does.
-- Works in mailboxes of its own (named with a random tag) so that it
-- disturbs no other spec's mail.
local server = require "support.server"
local account = require "imapsift.account"
local view = require "support.mailbox_view"
local actions = require "imapsift.actions"
local plan = require "imapsift.plan"
local errors = require "imapsift.error"

local TAG = ("r3-%d-%d"):format(os.time(), math.random(1, 1e6))
local function box(n) return TAG .. "-" .. n end

local raw_a, raw_b -- plain connections for filling and checking
local alice, bob   -- the accounts the actions run on
local lines, saved_log

local BOB = { user = server.user2, password = server.password2 }

local function accounts()
  alice = account.new(server.opts{ name = "alice", create = true })
  bob = account.new(server.opts{ name = "bob", create = true,
    user = BOB.user, password = BOB.password })
end

setup(function()
  raw_a = server.connect()
  raw_b = server.connect(BOB)
end)

teardown(function()
  for _, c in ipairs({ raw_a, raw_b }) do
    if c.mailbox then c:unselect() end
    for _, mb in ipairs(c:list("", TAG .. "*")) do c:delete(mb.name) end
    c:logout()
  end
end)

before_each(function()
  saved_log = plan.log
  lines = {}
  plan.log = function(line) lines[#lines + 1] = line end
  plan.reset()
  plan.dry_run(false)
  accounts()
end)

after_each(function()
  alice:logout()
  bob:logout()
  plan.log = saved_log
  plan.dry_run(false)
  plan.reset()
  if raw_a.mailbox then raw_a:unselect() end
  if raw_b.mailbox then raw_b:unselect() end
end)

-- fill(conn, name, n [, extra]) -> UIDs of n new messages in a new
-- mailbox, Message-IDs <TAG-name-i@example.org> unless extra(i) says.
local function fill(conn, name, n, extra)
  if #conn:list("", name) == 0 then conn:create(name) end
  local list = {}
  for i = 1, n do
    local m = { subject = name .. " " .. i,
      message_id = ("<%s-%d@example.org>"):format(name, i) }
    for k, v in pairs(extra and extra(i) or {}) do m[k] = v end
    list[i] = m
  end
  return server.append(conn, name, list)
end

local set_of, ids = view.set_of, view.ids

-- snapshot(conn, name) -> "uid id flags size" per message, sorted,
-- read-only.
local function snapshot(conn, name)
  local out = {}
  for _, m in ipairs(view.messages(conn, name, "RFC822.SIZE")) do
    out[#out + 1] = table.concat({ m.uid, m.id, table.concat(m.flags, ","),
      m.msg.size }, " ")
  end
  table.sort(out)
  return out
end

local function flags_of(conn, name, uid)
  conn:examine(name)
  local f = conn:fetch(uid, { "FLAGS" })[1].flags
  conn:unselect()
  local set = {}
  for _, x in ipairs(f) do set[x] = true end
  return set
end

describe("actions within one account", function()
  it("move takes exactly the set, other deleted mail stays", function()
    local src, dst = box("m-src"), box("m-dst")
    local uids = fill(raw_a, src, 4)
    raw_a:select(src)
    raw_a:store(uids[4], "+FLAGS", { "\\Deleted" }) -- another client's
    raw_a:unselect()
    local n = actions.move(set_of(alice, raw_a, src, { uids[1], uids[2] }),
      alice:mailbox(dst))
    assert.are.equal(2, n)
    assert.are.same({ "<" .. src .. "-1@example.org>",
      "<" .. src .. "-2@example.org>" }, ids(raw_a, dst))
    assert.are.equal(2, #snapshot(raw_a, src))
    assert.is_true(flags_of(raw_a, src, uids[4])["\\Deleted"])
    assert.are.equal(("alice: moved 2 messages %s -> %s (uids %d:%d)")
      :format(src, dst, uids[1], uids[2]), lines[1])
  end)

  it("copy leaves the source as it was", function()
    local src, dst = box("c-src"), box("c-dst")
    local uids = fill(raw_a, src, 3)
    local before = snapshot(raw_a, src)
    actions.copy(set_of(alice, raw_a, src, uids), dst)
    assert.are.same(before, snapshot(raw_a, src))
    assert.are.equal(3, #ids(raw_a, dst))
    assert.are.equal("copy", plan.entries()[1].action)
  end)

  it("delete expunges exactly the set", function()
    local src = box("d-src")
    local uids = fill(raw_a, src, 3)
    raw_a:select(src)
    raw_a:store(uids[3], "+FLAGS", { "\\Deleted" })
    raw_a:unselect()
    actions.delete(set_of(alice, raw_a, src, { uids[1] }))
    local left = snapshot(raw_a, src)
    assert.are.equal(2, #left)
    assert.is_true(flags_of(raw_a, src, uids[3])["\\Deleted"])
  end)

  it("flags, unflags, marks seen and sets keywords", function()
    local src = box("f-src")
    local uids = fill(raw_a, src, 2)
    local set = set_of(alice, raw_a, src, uids)
    actions.flag(set, "\\Flagged")
    actions.mark_seen(set)
    actions.add_keyword(set, "$Label1")
    actions.unflag(set_of(alice, raw_a, src, { uids[2] }), "\\Flagged")
    require("imapsift.batch").drain_all() -- queued until a sync point
    local f1, f2 = flags_of(raw_a, src, uids[1]), flags_of(raw_a, src,
      uids[2])
    assert.is_true(f1["\\Flagged"] and f1["\\Seen"] and f1["$Label1"])
    assert.is_nil(f2["\\Flagged"])
    assert.is_true(f2["\\Seen"])
    local s = plan.summary()
    assert.are.equal(7, s[1].flagged)
  end)

  it("logs the Message-IDs when verbose", function()
    local src = box("v-src")
    local uids = fill(raw_a, src, 2)
    plan.verbose(true)
    local ok, err = pcall(actions.mark_seen, set_of(alice, raw_a, src, uids))
    plan.verbose(false)
    assert(ok, tostring(err))
    assert.are.same({ ("<%s-1@example.org>"):format(src),
      ("<%s-2@example.org>"):format(src) }, plan.entries()[1].message_ids)
    assert.truthy(lines[1]:find(("[<%s-1@example.org> <%s-2@example.org>]")
      :format(src, src), 1, true))
  end)

  it("a destination named with LIST wildcards is not taken for another",
    function()
    local src = box("w-src")
    local uids = fill(raw_a, src, 1)
    fill(raw_a, box("w-dst-x"), 0)
    local strict = account.new(server.opts{ name = "strict" })
    plan.dry_run(true)
    local ok, err = pcall(actions.move, set_of(strict, raw_a, src, uids),
      box("w-dst-%"))
    plan.dry_run(false)
    strict:logout()
    assert.is_false(ok)
    assert.are.equal("TRYCREATE", err.code)
  end)

  it("a missing destination is created only when the account says so",
    function()
    local src = box("t-src")
    local uids = fill(raw_a, src, 1)
    local strict = account.new(server.opts{ name = "strict" })
    local ok, err = pcall(actions.move,
      set_of(strict, raw_a, src, uids), box("t-none"))
    strict:logout()
    assert.is_false(ok)
    assert.truthy(tostring(err):find(box("t-none"), 1, true))
    assert.truthy(tostring(err):find("account strict", 1, true))
    assert.are.equal(0, #raw_a:list("", box("t-none")))
    assert.are.equal(1, #snapshot(raw_a, src))
    actions.move(set_of(alice, raw_a, src, uids), box("t-new"))
    assert.are.equal(1, #ids(raw_a, box("t-new")))
  end)
end)

describe("actions across accounts", function()
  it("moves with flags and dates, skipping messages already there",
    function()
    local src, dst = box("x-src"), box("x-dst")
    local uids = fill(raw_a, src, 3, function(i)
      return i == 1 and {} or nil
    end)
    raw_a:select(src)
    raw_a:store(uids[1], "+FLAGS", { "\\Flagged", "$Work" })
    local dates = {}
    for _, m in ipairs(raw_a:fetch(uids, { "INTERNALDATE" })) do
      dates[m.uid] = m.internaldate
    end
    raw_a:unselect()
    -- the destination already holds the second message
    fill(raw_b, dst, 0)
    server.append(raw_b, dst, { { subject = "already",
      message_id = ("<%s-2@example.org>"):format(src) } })
    local n = actions.move(set_of(alice, raw_a, src, uids),
      bob:mailbox(dst))
    assert.are.equal(3, n)
    assert.are.equal(0, #snapshot(raw_a, src))
    local got = ids(raw_b, dst)
    assert.are.equal(3, #got)
    assert.are.equal(1, plan.entries()[1].skipped)
    raw_b:examine(dst)
    for _, m in ipairs(raw_b:fetch("1:*", { "UID", "FLAGS", "INTERNALDATE",
        "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]" })) do
      local id = m.body["HEADER.FIELDS (MESSAGE-ID)"]
      if id:find("-1@", 1, true) then
        local f = {}
        for _, x in ipairs(m.flags) do f[x] = true end
        assert.is_true(f["\\Flagged"] and f["$Work"])
        assert.are.equal(dates[uids[1]], m.internaldate)
      end
    end
    raw_b:unselect()
    assert.truthy(lines[1]:find("-> bob:" .. dst, 1, true))
  end)

  it("a run interrupted after copying, then run again: each message once",
    function()
    local src, dst = box("i-src"), box("i-dst")
    local uids = fill(raw_a, src, 4)
    local set = set_of(alice, raw_a, src, uids)
    -- the first run got as far as the copies (then the link was lost)
    actions.copy(set_of(alice, raw_a, src, { uids[1], uids[2], uids[3] }),
      bob:mailbox(dst))
    -- the retry
    actions.move(set, bob:mailbox(dst))
    assert.are.equal(0, #snapshot(raw_a, src))
    local got = ids(raw_b, dst)
    assert.are.equal(4, #got)
    for i = 2, #got do assert.are_not.equal(got[i - 1], got[i]) end
    -- and once more, with nothing left to do
    actions.move(set, bob:mailbox(dst))
    assert.are.equal(4, #ids(raw_b, dst))
  end)
end)

describe("a dry run", function()
  local function rules(a, b, names, uids)
    plan.rule("tidy", function()
      actions.move(set_of(a, raw_a, names.src, { uids[1], uids[2] }),
        names.dst)
      actions.flag(set_of(a, raw_a, names.src, { uids[3] }), "\\Flagged")
      actions.mark_seen(set_of(a, raw_a, names.src, { uids[4] }))
      actions.delete(set_of(a, raw_a, names.src, { uids[5] }))
      actions.copy(set_of(a, raw_a, names.src, { uids[6] }),
        b:mailbox(names.far))
    end)
  end

  local function shape(entries)
    local out = {}
    for i, e in ipairs(entries) do
      out[i] = { rule = e.rule, account = e.account, mailbox = e.mailbox,
        action = e.action, uids = e.uids, destination = e.destination,
        count = e.count }
    end
    return out
  end

  it("changes nothing, and plans exactly what the real run does",
    function()
    local names = { src = box("p-src"), dst = box("p-dst"),
      far = box("p-far") }
    local uids = fill(raw_a, names.src, 6)
    fill(raw_a, names.dst, 1)
    fill(raw_b, names.far, 1)
    local before = { snapshot(raw_a, names.src), snapshot(raw_a, names.dst),
      snapshot(raw_b, names.far) }
    plan.dry_run(true)
    rules(alice, bob, names, uids)
    local planned = shape(plan.entries())
    assert.are.same(before, { snapshot(raw_a, names.src),
      snapshot(raw_a, names.dst), snapshot(raw_b, names.far) })
    assert.are.equal(5, #planned)
    assert.are.equal(("[tidy] alice: would move 2 messages %s -> %s " ..
      "(uids %d:%d)"):format(names.src, names.dst, uids[1], uids[2]),
      lines[1])
    -- the real run, on fresh accounts
    plan.dry_run(false)
    plan.reset()
    alice:logout(); bob:logout()
    accounts()
    rules(alice, bob, names, uids)
    assert.are.same(planned, shape(plan.entries()))
    assert.are.equal(3, #ids(raw_a, names.dst))
    assert.are.equal(2, #ids(raw_b, names.far))
    assert.are.equal(3, #snapshot(raw_a, names.src))
  end)
end)

describe("a cross-account move cut at any command", function()
  local CALLS = { "list", "select", "examine", "status", "fetch", "search",
    "append", "store", "expunge", "create" }

  -- cut(accts, k): the k-th call on these accounts' connections is done
  -- by the server, then the link drops before the answer is seen (the
  -- worst moment). Returns a function telling whether it fired.
  local function cut(accts, k)
    local n, fired = 0, false
    for _, a in ipairs(accts) do
      local c = a:conn()
      for _, name in ipairs(CALLS) do
        local real = c[name]
        c[name] = function(self, ...)
          n = n + 1
          local r = table.pack(real(self, ...))
          if n == k then
            fired = true
            self:shutdown()
            errors.raise{ kind = "closed", command = name,
              text = "connection cut by the spec" }
          end
          return table.unpack(r, 1, r.n)
        end
      end
    end
    return function() return fired end
  end

  it("then run again leaves every message exactly once", function()
    for k = 1, 40 do
      local src, dst = box("k" .. k .. "-src"), box("k" .. k .. "-dst")
      local uids = fill(raw_a, src, 3)
      fill(raw_b, dst, 0)
      local fired = cut({ alice, bob }, k)
      local ok = pcall(actions.move, set_of(alice, raw_a, src, uids),
        bob:mailbox(dst))
      alice:logout(); bob:logout()
      accounts()
      -- the retry: the rule runs again over what the source now holds
      raw_a:examine(src)
      local left = raw_a:search{ "ALL" }
      raw_a:unselect()
      actions.move(set_of(alice, raw_a, src, left), bob:mailbox(dst))
      assert.are.same({}, snapshot(raw_a, src))
      assert.are.same({ ("<%s-1@example.org>"):format(src),
        ("<%s-2@example.org>"):format(src),
        ("<%s-3@example.org>"):format(src) }, ids(raw_b, dst))
      raw_a:delete(src)
      raw_b:delete(dst)
      if not fired() then
        assert.is_true(ok)
        assert.is_true(k > 5)
        return
      end
      alice:logout(); bob:logout()
      accounts()
    end
    error("the move never ran to its end")
  end)
end)
