-- spec/watch_spec.lua: Mailbox:watch() and watch.requests(), and
-- Watchers against the private Dovecot: two accounts watched at once in
-- one wait, news reported for the mailbox that got mail and that one
-- only, nothing when nothing came.

local imapsift = require "imapsift"
local server = require "support.server"
local watch = require "imapsift.watch"

local USER_A = server.as(10) -- leo
local B = server.spare[11]   -- mike: this spec is its only user

local function opts_a() return server.opts() end
local function opts_b()
  return server.opts{ user = B.user, password = B.password }
end

-- append(opts): one message into INBOX over a connection of its own.
local function append(opts)
  local imap = imapsift.connect(opts)
  server.append(imap, "INBOX", { { subject = "watch me" } })
  imap:logout()
end

describe("Mailbox:watch and watch.requests", function()
  after_each(watch.reset)

  it("lists each watched mailbox once, with a copy of its options",
    function()
      local a = imapsift.account(opts_a())
      local b = imapsift.account(opts_b())
      assert.equal(a.INBOX, a.INBOX:watch())
      a:mailbox("INBOX"):watch()
      a.Archive:watch()
      b.INBOX:watch()
      local reqs = watch.requests()
      assert.equal(3, #reqs)
      assert.same({ USER_A .. "@" .. server.host, "INBOX" },
        { reqs[1].account, reqs[1].mailbox })
      assert.equal("Archive", reqs[2].mailbox)
      assert.same({ B.user .. "@" .. server.host, "INBOX" },
        { reqs[3].account, reqs[3].mailbox })
      assert.equal(USER_A, reqs[1].opts.user)
      assert.are_not.equal(rawget(a, "opts"), reqs[1].opts)
      watch.reset()
      assert.same({}, watch.requests())
      a:logout(); b:logout()
    end)
end)

describe("Watchers against Dovecot", function()
  local ws, logged

  setup(function()
    server.reset()
    local b = imapsift.connect(opts_b())
    server.reset(b)
    b:logout()
  end)

  before_each(function()
    logged = {}
    ws = watch.new{ log = function(level, text)
      logged[#logged + 1] = level .. ": " .. text
    end }
  end)

  after_each(function() ws:close() end)

  it("watches two accounts in one wait and names the one with mail",
    function()
      ws:update{
        { account = "a", mailbox = "INBOX", opts = opts_a() },
        { account = "b", mailbox = "INBOX", opts = opts_b() },
      }
      assert.equal(2, ws:count())
      assert.same({}, (ws:wait(0.5)))
      append(opts_b())
      assert.same({ { account = "b", mailbox = "INBOX" } }, (ws:wait(30)))
      append(opts_a())
      assert.same({ { account = "a", mailbox = "INBOX" } }, (ws:wait(30)))
      assert.same({}, (ws:wait(0.5)))
      for _, l in ipairs(logged) do assert.not_matches("^warn", l) end
    end)

  it("closes watchers no longer asked for", function()
    local a = { account = "a", mailbox = "INBOX", opts = opts_a() }
    ws:update{ a, { account = "b", mailbox = "INBOX", opts = opts_b() } }
    ws:update{ a }
    assert.equal(1, ws:count())
    append(opts_b())
    assert.same({}, (ws:wait(1)))
  end)
end)
