-- spec/testing_spec.lua: imapsift.testing, the helper a user's busted
-- spec requires to test rules: it finds and starts the private Dovecot,
-- fills a spare user's mailboxes from a Lua description, reads them back
-- and asserts on them, in a checkout and in an installed imapsift.
local testing = require "imapsift.testing"
local imapsift = require "imapsift"
local errors = require "imapsift.error"

local USER = testing.user(2) -- this file's own user

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- The raw FETCH of a mailbox's messages, in UID order.
local function fetch(name, items)
  local imap = testing.connect(USER)
  imap:examine(name)
  local list = imap:fetch("1:*", items)
  imap:logout()
  table.sort(list, function(a, b) return a.uid < b.uid end)
  return list
end

describe("imapsift.testing", function()
  it("finds the checkout's test server and reads its settings", function()
    local s = testing.server()
    assert.truthy(testing.script():match("scripts/testserver$"))
    assert.equal(s, testing.server())
    assert.equal("127.0.0.1", s.host)
    assert.is_true(math.type(s.imaps_port) == "integer")
    assert.equal(20, #s.spare)
    assert.equal(s.spare[2], USER)
    assert.truthy(s.passwords[USER])
  end)

  it("refuses a spare user that does not exist", function()
    local ok, err = pcall(testing.user, 99)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
  end)

  it("fills mailboxes from a description and reads them back", function()
    local uids = testing.mailboxes(USER, {
      INBOX = {
        { from = "News <news@example.com>", subject = "Café news",
          date = "2024-02-01", flags = { "\\Seen", "$Label1" },
          headers = { ["List-Id"] = "<news.example.com>" } },
        "From: raw@example.org\nSubject: raw text\n\nHi.\n",
      },
      ["Lists/lua"] = { { subject = "nested", date = 1700000000 } },
    })
    assert.equal(2, #uids.INBOX)
    assert.equal(1, #uids["Lists/lua"])
    local inbox = testing.contents(USER, "INBOX")
    assert.equal(2, #inbox)
    assert.same({ uid = uids.INBOX[1], subject = "Café news",
      from = "news@example.com", flags = { "$Label1", "\\Seen" } }, inbox[1])
    assert.equal("raw text", inbox[2].subject)
    assert.is_false(testing.has_flag(inbox[2], "\\Seen"))
    local m = fetch("INBOX", { "INTERNALDATE",
      "BODY.PEEK[HEADER.FIELDS (LIST-ID DATE)]" })[1]
    local function epoch(d)
      return imapsift.internaldate.parse('"' .. d .. '"')
    end
    assert.equal(1706745600, epoch(m.internaldate))
    local head = m.body["HEADER.FIELDS (LIST-ID DATE)"]
    assert.truthy(head:find("List-Id: <news.example.com>", 1, true))
    assert.truthy(head:find("Date: Thu, 01 Feb 2024 00:00:00 +0000", 1, true))
    assert.equal(1700000000,
      epoch(fetch("Lists/lua", { "INTERNALDATE" })[1].internaldate))
  end)

  it("empties the account before filling it again", function()
    testing.mailboxes(USER, { ["Lists/lua"] = { { subject = "old" } },
      Archive = { { subject = "archived" } } })
    testing.mailboxes(USER, { INBOX = { { subject = "fresh" } } })
    assert.is_nil(testing.contents(USER, "Lists/lua"))
    assert.same({}, testing.contents(USER, "Archive"))
    testing.assert_mailbox(USER, "INBOX", { "fresh" })
  end)

  it("asserts a mailbox's subjects in any order", function()
    testing.mailboxes(USER,
      { INBOX = { { subject = "b" }, { subject = "a" } } })
    testing.assert_mailbox(USER, "INBOX", { "a", "b" })
    local ok, err = pcall(testing.assert_mailbox, USER, "INBOX", { "a" })
    assert.is_false(ok)
    assert.truthy(err:find('expected subjects { "a" }, found { "a", "b" }',
      1, true))
    ok, err = pcall(testing.assert_mailbox, USER, "Nope", {})
    assert.is_false(ok)
    assert.truthy(err:find("mailbox Nope of " .. USER .. " does not exist",
      1, true))
  end)

  it("refuses a date it cannot read", function()
    local ok, err = pcall(testing.mailboxes, USER,
      { INBOX = { { subject = "x", date = "1 Feb 2024" } } })
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"))
    assert.truthy(tostring(err):find("INBOX[1]", 1, true))
  end)

  it("hands back an account that reaches the user's mail", function()
    testing.mailboxes(USER, { INBOX = { { subject = "for the account" } } })
    local account = testing.account(USER)
    -- The rules layer's account once it is there, else a connection.
    local imap = imapsift.account and account:conn() or account
    assert.equal(1, imap:examine("INBOX").exists)
    account:logout()
  end)
end)

local function build_dir()
  return assert(os.getenv("IMAPSIFT_BUILD"),
    "IMAPSIFT_BUILD must name the build directory (ctest sets it)")
end

-- run(command) -> whether it succeeded, its output (stdout and stderr).
local function run(command)
  local p = assert(io.popen(command .. " 2>&1"))
  local out = p:read("a")
  return p:close() == true, out
end

local function write_temp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("IMAPSIFT_TESTSERVER", function()
  it("names the script, and a missing one is a clear error", function()
    local script = write_temp([[
      local ok, err = pcall(require("imapsift.testing").server)
      print(ok, err.kind, tostring(err))
    ]])
    local ok, out = run(("IMAPSIFT_TESTSERVER=/nonexistent/testserver %s %s")
      :format(shquote(build_dir() .. "/imapsift"), shquote(script)))
    os.remove(script)
    assert.is_true(ok, out)
    assert.truthy(out:find("^false\ttestserver\t.*no test server script " ..
      "at /nonexistent/testserver"), out)
  end)
end)

describe("an installed imapsift", function()
  local prefix

  setup(function()
    local build = build_dir()
    prefix = build .. "/install-check"
    assert.is_true(os.execute(("cmake --install %s --prefix %s >/dev/null")
      :format(shquote(build), shquote(prefix))))
  end)

  it("gives lua5.4 the module and core.so where Lua looks", function()
    local dir = prefix .. "/share/imapsift/lua"
    local ok, out = run(("cd / && lua5.4 -e %s"):format(shquote(([[
      package.path = "%s/?.lua;%s/?/init.lua"
      package.cpath = "%s/lib/lua/5.4/?.so"
      require "imapsift"
      print(require("imapsift.testing").script())]]):format(dir, dir, prefix))))
    assert.is_true(ok, out)
    assert.equal(dir .. "/imapsift/../../scripts/testserver\n", out)
  end)

  it("finds its installed test server from a test file", function()
    local script = write_temp([[
      local testing = require "imapsift.testing"
      local user, prefix = ...
      assert(testing.script():find(prefix .. "/bin/../share/imapsift/", 1,
        true), testing.script())
      testing.mailboxes(user, { INBOX = { { subject = "installed" } } })
      testing.assert_mailbox(user, "INBOX", { "installed" })
      print("ok " .. testing.server().testdir)
    ]])
    -- Run from elsewhere, with nothing pointing into this checkout but
    -- the state directory of the server already running.
    local ok, out = run(("cd / && env -u IMAPSIFT_TESTSERVER " ..
      "IMAPSIFT_TESTDIR=%s %s %s %s %s"):format(
      shquote(testing.server().testdir), shquote(prefix .. "/bin/imapsift"),
      shquote(script), shquote(USER), shquote(prefix)))
    os.remove(script)
    assert.is_true(ok, out)
    assert.equal("ok " .. testing.server().testdir .. "\n", out)
  end)
end)
