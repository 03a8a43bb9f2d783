-- Specs for moves cut by a fault-injecting proxy (support/cutproxy.pl)
-- at every command boundary: before the command reaches the server,
-- right after it, and once the server has answered it unseen. After each
-- cut the rule runs again without cuts, and every message must then be
-- exactly once in the destination, none lost, none duplicated. Runs for a
-- same-account move with MOVE, without it (the proxy hides MOVE), and
-- across two accounts with either account's link cut.
local server = require "support.server"
local account = require "imapsift.account"
local view = require "support.mailbox_view"
local actions = require "imapsift.actions"
local plan = require "imapsift.plan"
local errors = require "imapsift.error"

local TAG = ("cut-%d-%d"):format(os.time(), math.random(1, 1e6))
local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local PROXY = HERE .. "support/cutproxy.pl"
local MODES = { "before", "after", "reply" }
local COUNT = 3 -- messages per round

local BOB = { user = server.user2, password = server.password2 }
local raw_a, raw_b, saved_log
local running = {} -- [proxy] = true until stopped

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- proxy(mode, n, strip) -> a running cutproxy.pl in front of the
-- plaintext port: { port, pid, log, pipe }.
local function proxy(mode, n, strip)
  local log = os.tmpname()
  local pipe = assert(io.popen(("exec perl %s %s %d %s %s %d %d"):format(
    shq(PROXY), shq(server.host), server.imap_port, shq(log), mode, n,
    strip and 1 or 0)))
  local port, pid = assert(pipe:read("l"), "the proxy did not start")
    :match("^(%d+) (%d+)$")
  local p = { port = tonumber(port), pid = pid, log = log, pipe = pipe }
  running[p] = true
  return p
end

local function stop(p)
  running[p] = nil
  os.execute("kill " .. p.pid)
  p.pipe:close()
  os.remove(p.log)
end

local function log_lines(p)
  local out = {}
  local f = io.open(p.log)
  if not f then return out end
  for line in f:lines() do out[#out + 1] = line end
  f:close()
  return out
end

-- The first connection's commands so far, whether it was cut and has
-- been drained, and the set of its command names ("UID MOVE" = true).
local function seen(p)
  local n, cut, drained, names = 0, false, false, {}
  for _, line in ipairs(log_lines(p)) do
    local name = line:match("^conn 1 cmd %d+ %S+ (.*)$")
    if name then n, names[name] = n + 1, true end
    if line:find("^conn 1 cut ") then cut = true end
    if line == "conn 1 drained" then drained = true end
  end
  return n, cut, drained, names
end

-- After a cut, waits (bounded) until the server has finished with the
-- cut session, so the retry meets no command still running.
local function wait_drained(p)
  for _ = 1, 600 do
    local _, cut, drained = seen(p)
    if not cut or drained then return end
    os.execute("sleep 0.05")
  end
  error("the proxy never saw the server end the cut session")
end

-- An account over plaintext (PLAIN keeps logging in cheap), through
-- the proxy at port, or straight to the server without one.
local function new_account(name, creds, port)
  return account.new(server.opts{ name = name, create = true,
    user = creds.user, password = creds.password, auth = "PLAIN",
    host = port and "127.0.0.1" or server.host,
    port = port or server.imap_port, tls = "none", ca_file = server.UNSET,
    allow_plaintext = true })
end

local ALICE = { user = server.user, password = server.password }

-- accounts(case [, port]) -> source and destination accounts; the link
-- the case cuts goes through the proxy at port, the other is direct.
local function accounts(case, port)
  local a = new_account("alice", ALICE, case.cut ~= "dst" and port)
  if not case.cross then return a, a end
  return a, new_account("bob", BOB, case.cut == "dst" and port)
end

local function logout(...)
  for _, a in ipairs({ ... }) do pcall(a.logout, a) end
end

-- The case's empty source and destination mailboxes, made once.
local function boxes(case)
  local src, dst = TAG .. "-" .. case.name .. "-src",
    TAG .. "-" .. case.name .. "-dst"
  raw_a:create(src)
  if case.cross then raw_b:create(dst) else raw_a:create(dst) end
  return src, dst
end

local function empty(conn, name)
  conn:select(name)
  conn:store("1:*", "+FLAGS.SILENT", { "\\Deleted" }, { seq = true })
  conn:expunge()
  conn:unselect()
end

-- round(case, mode, n, k) -> commands the cut link sent during the move,
-- whether it was cut, the names of those commands. Fills the source,
-- moves it through a proxy cutting at command n, runs the move again
-- without cuts, checks every message is in the destination exactly once
-- and the source is empty, and empties the destination.
local function round(case, mode, n, k)
  local name = ("%s-%s-%s-%d"):format(TAG, case.name, mode, k)
  local src, dst = case.src, case.dst
  local dconn = case.cross and raw_b or raw_a
  local want = {}
  for i = 1, COUNT do
    want[i] = { subject = name .. " " .. i,
      message_id = ("<%s-%d@example.org>"):format(name, i) }
  end
  local uids = server.append(raw_a, src, want)
  local p = proxy(mode, n, case.strip)
  local a, b = accounts(case, p.port)
  local set = view.set_of(a, raw_a, src, uids)
  local ok, err = pcall(actions.move, set, b:mailbox(dst))
  local sent, cut, _, names = seen(p)
  logout(a, b)
  wait_drained(p)
  stop(p)
  if not ok then
    assert(cut, "the move failed without a cut: " .. tostring(err))
    assert(errors.is(err, "closed") or errors.is(err, "bye"),
      "not a lost link: " .. tostring(err))
  end
  -- the retry: the rule runs again over what the source now holds, on a
  -- server that still lacks MOVE when it did (a proxy that cuts nothing)
  local p2 = case.strip and proxy("before", 0, true)
  local a2, b2 = accounts(case, p2 and p2.port)
  actions.move(a2:mailbox(src):select_all(), b2:mailbox(dst))
  logout(a2, b2)
  if p2 then wait_drained(p2); stop(p2) end
  for i = 1, COUNT do want[i] = want[i].message_id end
  table.sort(want)
  assert.are.same({}, view.ids(raw_a, src),
    ("%s %s cut at %d: source not empty"):format(case.name, mode, n))
  local got = view.ids(dconn, dst)
  assert.are.same(want, got,
    ("%s %s cut at %d: destination"):format(case.name, mode, n))
  empty(dconn, dst)
  return sent, cut, names
end

setup(function()
  raw_a = server.connect()
  raw_b = server.connect(BOB)
  saved_log = plan.log
  plan.log = function() end
end)

teardown(function()
  plan.log = saved_log
  plan.reset()
  for _, c in ipairs({ raw_a, raw_b }) do
    if c.mailbox then c:unselect() end
    for _, mb in ipairs(c:list("", TAG .. "*")) do c:delete(mb.name) end
    c:logout()
  end
end)

before_each(function()
  plan.reset()
  plan.dry_run(false)
end)

after_each(function()
  for p in pairs(running) do stop(p) end
end)

local CASES = {
  { name = "move", title = "a move within an account (MOVE)" },
  -- Without MOVE a cut between COPY and UID EXPUNGE leaves the copies:
  -- the retry finds their Message-IDs and copies only the others.
  { name = "fallback", strip = true,
    title = "a move within an account without MOVE (COPY, UID EXPUNGE)" },
  { name = "cross-src", cross = true, cut = "src",
    title = "a move across accounts, the source's link cut" },
  { name = "cross-dst", cross = true, cut = "dst",
    title = "a move across accounts, the destination's link cut" },
}

for _, case in ipairs(CASES) do
  describe(case.title, function()
    it("cut at every command, then run again: each message once",
        function()
      case.src, case.dst = boxes(case)
      local total, _, names = round(case, "before", 0, 0)
      assert.is_true(total >= 2, "too few commands in a clean run")
      -- the proxy hiding MOVE does make the client fall back
      if not case.cross then
        assert.are.equal(not case.strip, names["UID MOVE"] == true)
        assert.are.equal(case.strip == true, names["UID COPY"] == true)
      end
      local k = 0
      for _, mode in ipairs(MODES) do
        for n = 1, total do
          k = k + 1
          local _, cut = round(case, mode, n, k)
          assert.is_true(cut, ("%s: no cut at command %d of %d")
            :format(mode, n, total))
        end
      end
    end)
  end)
end
