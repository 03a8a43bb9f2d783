-- Specs for imapsift.cli without running anything: option parsing,
-- durations, usage errors, help and version text, and how errors map
-- to exit codes.
local cli = require "imapsift.cli"
local errors = require "imapsift.error"

local function parse(...) return cli.parse({ ... }) end

describe("cli.duration", function()
  it("reads units, sums of them and bare seconds", function()
    assert.equal(90, cli.duration("90s"))
    assert.equal(300, cli.duration("5m"))
    assert.equal(3600, cli.duration("1h"))
    assert.equal(5400, cli.duration("1h30m"))
    assert.equal(172800, cli.duration("2d"))
    assert.equal(45, cli.duration("45"))
    assert.equal(1.5, cli.duration("1.5"))
  end)

  it("refuses anything else, and zero", function()
    for _, bad in ipairs{ "", "5x", "m5", "1h 30m", "-5", "0", "0s", "5mm" } do
      local d, err = cli.duration(bad)
      assert.is_nil(d, bad)
      assert.is_string(err)
    end
  end)
end)

describe("cli.parse", function()
  it("takes flags, valued options in both forms, and the script with its arguments",
      function()
    local o = assert(parse("-n", "--plan", "p.json", "--every=5m", "--watch",
      "-vv", "--trace", "t.log", "--log=l.log", "--log-format", "json",
      "rules.lua", "a", "-n", "--b"))
    assert.is_true(o.dry)
    assert.equal("p.json", o.plan_file)
    assert.equal(300, o.every)
    assert.is_true(o.watch)
    assert.equal(2, o.verbose)
    assert.equal(2, cli.level(o))
    assert.equal("t.log", o.trace)
    assert.equal("l.log", o.log_file)
    assert.equal("json", o.log_format)
    assert.equal("rules.lua", o.script)
    assert.same({ "a", "-n", "--b" }, o.args)
  end)

  it("collects -e chunks in order, attached or separate", function()
    local o = assert(parse("-e", "x = 1", "-ey = 2", "-ve", "z = 3"))
    assert.same({ "x = 1", "y = 2", "z = 3" }, o.chunks)
    assert.equal(1, o.verbose)
    assert.is_nil(o.script)
  end)

  it("ends options at --", function()
    local o = assert(parse("-q", "--", "-script.lua", "-v"))
    assert.equal("-script.lua", o.script)
    assert.same({ "-v" }, o.args)
    assert.equal(-1, cli.level(o))
  end)

  it("uses the default rules file when neither a script nor -e is given", function()
    local o = assert(parse("-n"))
    assert.equal(cli.default_script(), o.script)
    assert.matches("/imapsift/rules%.lua$", o.script)
  end)

  it("refuses bad options with a message naming them", function()
    local cases = {
      { { "--bogus" }, "unknown option %-%-bogus" },
      { { "-x" }, "unknown option %-x" },
      { { "--plan" }, "%-%-plan needs a value" },
      { { "-e" }, "%-e needs" },
      { { "--every", "soon" }, "bad duration" },
      { { "--log-format", "xml" }, "neither text nor json" },
      { { "--dry-run=yes" }, "takes no value" },
      { { "--check", "--every", "5m", "s.lua" }, "runs once" },
    }
    for _, c in ipairs(cases) do
      local o, err = cli.parse(c[1])
      assert.is_nil(o, table.concat(c[1], " "))
      assert.matches(c[2], err)
    end
  end)
end)

describe("cli.classify and cli.worst", function()
  local function e(kind, command)
    return errors.new{ kind = kind, command = command, text = "x" }
  end

  it("maps error kinds to exit codes", function()
    assert.equal(0, cli.classify(nil))
    assert.equal(1, cli.classify("a plain Lua error"))
    assert.equal(1, cli.classify(e("no", 'SELECT "X"')))
    assert.equal(1, cli.classify(e("protocol")))
    assert.equal(2, cli.classify(e("usage")))
    for _, k in ipairs{ "connect", "closed", "bye", "timeout", "io" } do
      assert.equal(3, cli.classify(e(k)), k)
    end
    assert.equal(3, cli.classify(e("no", 'LOGIN as "bob"')))
    assert.equal(3, cli.classify(e("bad", "AUTHENTICATE PLAIN")))
    assert.equal(4, cli.classify(e("tls")))
    assert.equal(0, cli.classify(e("stopped")))
  end)

  it("ranks several problems 2 > 4 > 3 > 1 > 0", function()
    assert.equal(1, cli.worst(0, 1))
    assert.equal(3, cli.worst(1, 3))
    assert.equal(3, cli.worst(3, 1))
    assert.equal(4, cli.worst(3, 4))
    assert.equal(4, cli.worst(4, 3))
    assert.equal(2, cli.worst(4, 2))
    assert.equal(2, cli.worst(2, 4))
    assert.equal(0, cli.worst(0, 0))
  end)
end)

-- main writes to io.stdout and io.stderr; these specs swap them for
-- recorders, hence the writes to io's fields.
-- luacheck: ignore 122
describe("cli.main without a script", function()
  local real_stdout, real_stderr = io.stdout, io.stderr
  local out, err

  local function capture(f)
    local buf = {}
    return setmetatable({
      write = function(self, ...)
        for _, s in ipairs{ ... } do buf[#buf + 1] = tostring(s) end
        return self
      end,
      flush = function(self) return self end,
      text = function() return table.concat(buf) end,
    }, { __index = f })
  end

  before_each(function()
    out, err = capture(real_stdout), capture(real_stderr)
    io.stdout, io.stderr = out, err
  end)
  after_each(function() io.stdout, io.stderr = real_stdout, real_stderr end)

  it("prints the help with every option on stdout and returns 0", function()
    assert.equal(0, cli.main{ "--help" })
    local text = out:text()
    assert.matches("^usage: imapsift %[OPTIONS%]", text)
    for _, opt in ipairs{ "--dry-run", "--plan", "--check", "--every",
      "--watch", "--verbose", "--quiet", "--trace", "--log ", "--log-format",
      "-e CHUNK", "--version", "--help", "Exit status", "XDG_CONFIG_HOME",
      "XDG_STATE_HOME" } do
      assert.is_truthy(text:find(opt, 1, true), opt)
    end
    assert.equal("", err:text())
  end)

  it("has the version CMake builds with", function()
    local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$")
    local f = assert(io.open((here or ".") .. "/CMakeLists.txt"))
    local cmake = f:read("a")
    f:close()
    assert.equal(cmake:match("project%(imapsift VERSION ([%d.]+)"), cli.VERSION)
    assert.equal("imapsift " .. cli.VERSION, require("imapsift")._VERSION)
  end)

  it("prints the versions with -V", function()
    assert.equal(0, cli.main{ "-V" })
    local text = out:text()
    assert.matches("^imapsift 0%.1%.0\nLua 5%.4", text)
  end)

  it("refuses a bad option with the usage line and returns 2", function()
    assert.equal(2, cli.main{ "--nope" })
    assert.equal("imapsift: unknown option --nope\n" .. cli.USAGE .. "\n" ..
      "Try 'imapsift --help'.\n", err:text())
    assert.equal("", out:text())
  end)
end)
