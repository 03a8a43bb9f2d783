-- spec/state_file_spec.lua: the state files without a server: where
-- they live, how names are escaped, the file format (and a corrupt file),
-- pending records, commit, discard, a failed rule's records dropped and a
-- dry run writing nothing.
local state = require "imapsift.state"
local plan = require "imapsift.plan"
local lfs = require "lfs"
local util = require "support.util"


local function files_under(path, out, prefix)
  out, prefix = out or {}, prefix or ""
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local full = path .. "/" .. name
      if lfs.attributes(full, "mode") == "directory" then
        files_under(full, out, prefix .. name .. "/")
      else
        out[#out + 1] = prefix .. name
      end
    end
  end
  table.sort(out)
  return out
end

local function rec(fields)
  local r = { account = "me@host", mailbox = "INBOX", uidvalidity = 7,
    last_uid = 10, uidnext = 11 }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

describe("state files", function()
  local sb, dir, lines

  before_each(function()
    sb = util.state_sandbox(state, plan)
    dir, lines = sb.dir, sb.lines
  end)

  after_each(function() util.state_restore(sb, state, plan) end)

  describe("dir()", function()
    local getenv = os.getenv
    local env
    before_each(function()
      state.set_dir(nil)
      env = {}
      os.getenv = function(k) return env[k] end -- luacheck: ignore
    end)
    after_each(function() os.getenv = getenv end) -- luacheck: ignore

    it("uses an absolute XDG_STATE_HOME", function()
      env = { XDG_STATE_HOME = "/x/state", HOME = "/home/u" }
      assert.equal("/x/state/imapsift", state.dir())
    end)

    it("ignores a relative XDG_STATE_HOME and falls back to HOME", function()
      env = { XDG_STATE_HOME = "rel", HOME = "/home/u" }
      assert.equal("/home/u/.local/state/imapsift", state.dir())
      env = { HOME = "/home/u" }
      assert.equal("/home/u/.local/state/imapsift", state.dir())
    end)

    it("raises a usage error with neither", function()
      assert.equal("usage", util.catch(state.dir).kind)
    end)
  end)

  it("escapes names so each is one distinct file name", function()
    assert.equal("INBOX", state.escape("INBOX"))
    assert.equal("me@host.org", state.escape("me@host.org"))
    assert.equal("a%2Fb", state.escape("a/b"))
    assert.equal("Lists%2Flua-l+x_y", state.escape("Lists/lua-l+x_y"))
    assert.equal("a%25b%20c", state.escape("a%b c"))
    assert.equal("%C3%A9", state.escape("\195\169"))
    assert.equal("%2E", state.escape("."))
    assert.equal("%2E%2E", state.escape(".."))
    assert.equal("...", state.escape("..."))
    assert.equal("%", state.escape(""))
    local _, file = state.path("a/b", "../x")
    assert.equal(dir .. "/a%2Fb/..%2Fx.state", file)
  end)

  it("writes one file per account and mailbox in the documented format",
    function()
    state.record(rec{ highestmodseq = 99 })
    state.record(rec{ account = "other", mailbox = "Lists/lua",
      uidvalidity = 3, last_uid = 0, uidnext = 1 })
    assert.equal(2, state.commit())
    assert.same({ "me@host/INBOX.state", "other/Lists%2Flua.state" },
      files_under(dir))
    local text = util.read_file(dir .. "/me@host/INBOX.state")
    assert.matches("^uidvalidity 7\nlast_uid 10\nuidnext 11\n" ..
      "highestmodseq 99\nupdated %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ\n$",
      text)
    assert.same({}, state.pending())
    assert.same({ uidvalidity = 7, last_uid = 10, uidnext = 11,
      highestmodseq = 99 }, state.read("me@host", "INBOX"))
    assert.same({ uidvalidity = 3, last_uid = 0, uidnext = 1 },
      state.read("other", "Lists/lua"))
  end)

  it("creates the directories private and the files 0600", function()
    if not require("imapsift.core").write_file_atomic then
      pending("needs core.write_file_atomic and core.mkdir_p")
      return
    end
    state.record(rec())
    state.commit()
    -- lfs gives permissions as "rwx------"
    assert.equal("rwx------",
      lfs.attributes(dir .. "/me@host", "permissions"))
    assert.equal("rw-------",
      lfs.attributes(dir .. "/me@host/INBOX.state", "permissions"))
  end)

  it("replaces a file whole and leaves no temporary file", function()
    state.record(rec())
    state.commit()
    state.record(rec{ last_uid = 20, uidnext = 21 })
    state.commit()
    assert.same({ "me@host/INBOX.state" }, files_under(dir))
    assert.equal(20, state.read("me@host", "INBOX").last_uid)
  end)

  it("ignores unknown lines and reads a missing file as nothing", function()
    assert.is_nil(state.read("me@host", "INBOX"))
    lfs.mkdir(dir)
    lfs.mkdir(dir .. "/me@host")
    util.write_file(dir .. "/me@host/INBOX.state",
      "future 1 2 3\nuidvalidity 5\n\nlast_uid 9\nupdated whenever\n")
    assert.same({ uidvalidity = 5, last_uid = 9 },
      state.read("me@host", "INBOX"))
    assert.same({}, lines)
  end)

  it("treats a corrupt file as absent, with a warning", function()
    lfs.mkdir(dir)
    lfs.mkdir(dir .. "/me@host")
    for _, text in ipairs{ "uidvalidity x\nlast_uid 9\n", "last_uid 9\n",
        "\0\1garbage", "uidvalidity 5\nlast_uid -1\n" } do
      util.write_file(dir .. "/me@host/INBOX.state", text)
      lines = {}; sb.lines = lines
      assert.is_nil(state.read("me@host", "INBOX"))
      assert.equal(1, #lines)
      assert.matches("warning: me@host: INBOX: state file .* unreadable",
        lines[1])
    end
  end)

  it("keeps one record per mailbox: the latest", function()
    state.record(rec{ last_uid = 10 })
    state.record(rec{ mailbox = "Other" })
    state.record(rec{ last_uid = 12 })
    local p = state.pending()
    assert.equal(2, #p)
    assert.equal("INBOX", p[1].mailbox)
    assert.equal(12, p[1].last_uid)
    assert.equal("Other", p[2].mailbox)
  end)

  it("discard() forgets every pending record", function()
    state.record(rec())
    state.discard()
    assert.same({}, state.pending())
    assert.equal(0, state.commit())
    assert.is_nil(lfs.attributes(dir))
  end)

  it("drops every record of a mailbox a failed rule looked at, for the " ..
    "rest of the run", function()
    plan.rule("first", function()
      state.record(rec{ rule = plan.current() })
      state.record(rec{ mailbox = "Kept", rule = plan.current() })
    end)
    local ok = plan.rule("second", function()
      state.record(rec{ last_uid = 15, rule = plan.current() })
      state.record(rec{ mailbox = "Only2", rule = plan.current() })
      error("boom")
    end)
    assert.is_false(ok)
    plan.rule("third", function()
      state.record(rec{ last_uid = 15, rule = plan.current() })
    end)
    local p = state.pending()
    assert.equal(1, #p)
    assert.equal("Kept", p[1].mailbox)
    state.discard()
    state.record(rec())
    assert.equal(1, #state.pending())
  end)

  it("writes nothing in a dry run", function()
    state.record(rec())
    plan.dry_run(true)
    assert.equal(0, state.commit())
    assert.same({}, state.pending())
    assert.is_nil(lfs.attributes(dir))
  end)

  it("raises kind io naming the file when it cannot write", function()
    util.write_file(dir, "a file where the directory should be")
    state.record(rec())
    local err = util.catch(state.commit)
    assert.equal("io", err.kind)
    assert.matches(util.lit(dir .. "/me@host"), err.text)
  end)

  it("checks a record's fields", function()
    assert.equal("usage", util.catch(state.record, { account = "a" }).kind)
  end)
end)
