-- Specs for imapsift.util (imaplib's module functions in Lua's shape):
-- parse_flags, trace_level and connect's debug option, and the helpers
-- the imapsift module exports from the core (quote, mutf7).
local imapsift = require "imapsift"
local util = require "imapsift.util"
local fake = require "support.fake"

describe("imapsift.parse_flags", function()
  it("reads the list after FLAGS", function()
    assert.same({ "\\Seen", "\\Deleted", "custom" },
      imapsift.parse_flags("FLAGS (\\Seen \\Deleted custom)"))
  end)

  it("reads a bare parenthesized list", function()
    assert.same({ "\\Seen" }, imapsift.parse_flags("(\\Seen)"))
    assert.same({ "$Junk", "\\Flagged" },
      imapsift.parse_flags("  ( $Junk   \\Flagged )"))
  end)

  it("finds FLAGS inside a FETCH response, in any case", function()
    assert.same({ "\\Answered", "$Forwarded" }, imapsift.parse_flags(
      "* 12 FETCH (UID 40 FLAGS (\\Answered $Forwarded) RFC822.SIZE 9)"))
    assert.same({ "\\Seen" }, imapsift.parse_flags("1 (flags (\\Seen))"))
  end)

  it("reads PERMANENTFLAGS, \\* included", function()
    assert.same({ "\\Seen", "\\Deleted", "\\*" }, imapsift.parse_flags(
      "* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] Flags permitted."))
  end)

  it("gives an empty array when there are none", function()
    assert.same({}, imapsift.parse_flags("FLAGS ()"))
    assert.same({}, imapsift.parse_flags("()"))
    assert.same({}, imapsift.parse_flags(""))
    assert.same({}, imapsift.parse_flags("* 3 EXISTS"))
    assert.same({}, imapsift.parse_flags("\\Seen \\Deleted"))
    assert.same({}, imapsift.parse_flags("FLAGS (\\Seen"))
  end)

  it("raises for a value that is not a string", function()
    assert.has_error(function() imapsift.parse_flags(nil) end,
      "bad argument #1 to 'parse_flags' (string expected, got nil)")
    assert.has_error(function() imapsift.parse_flags({}) end)
  end)
end)

describe("imapsift.quote", function()
  local quote = imapsift.quote

  it("leaves atoms unchanged", function()
    assert.equal("INBOX", quote("INBOX"))
    assert.equal("alice", quote("alice"))
    assert.equal("Archive/2024", quote("Archive/2024"))
  end)

  it("quotes strings with spaces and specials, escaping \" and \\",
    function()
      assert.equal('"a b"', quote("a b"))
      assert.equal('""', quote(""))
      assert.equal('"a(b"', quote("a(b"))
      assert.equal('"%"', quote("%"))
      assert.equal('"*"', quote("*"))
      assert.equal('"x\\"y\\\\z"', quote('x"y\\z'))
    end)

  it("sends 8-bit text and line breaks as a literal", function()
    assert.equal("{5}\r\ncaf\xc3\xa9", quote("caf\xc3\xa9"))
    assert.equal("{4}\r\na\r\nb", quote("a\r\nb"))
  end)

  it("quotes 8-bit text once UTF-8 is allowed (UTF8=ACCEPT)", function()
    assert.equal('"caf\xc3\xa9"', quote("caf\xc3\xa9", { utf8 = true }))
  end)

  it("refuses a NUL byte, which no IMAP string can carry", function()
    assert.has_error(function() quote("a\0b") end)
  end)
end)

describe("imapsift.mutf7", function()
  it("encodes and decodes modified UTF-7 mailbox names", function()
    assert.equal("Entw&APw-rfe", imapsift.mutf7.encode("Entw\xc3\xbcrfe"))
    assert.equal("Entw\xc3\xbcrfe", imapsift.mutf7.decode("Entw&APw-rfe"))
    assert.equal("a&-b", imapsift.mutf7.encode("a&b"))
  end)
end)

-- A trace function at level n whose output is collected in a table.
local function collector(n)
  local out = {}
  local fn = imapsift.trace_level(n, function(s) out[#out + 1] = s end)
  return fn, out
end

local TRAFFIC = {
  { "S", "* OK [CAPABILITY IMAP4rev1 IDLE] ready" },
  { "C", "A1 LOGIN alice ***" },
  { "S", "* CAPABILITY IMAP4rev1 IDLE SORT" },
  { "S", "A1 OK [CAPABILITY IMAP4rev1 SORT] logged in" },
  { "C", "A2 SELECT Nope" },
  { "S", "A2 NO [NONEXISTENT] no such mailbox" },
  { "S", "* BAD line too long" },
  { "S", "* 3 EXISTS" },
  { "S", "* BYE shutting down" },
}

local function play(n)
  local fn, out = collector(n)
  if fn then
    for _, l in ipairs(TRAFFIC) do fn(l[1], l[2]) end
  end
  return fn, out
end

describe("imapsift.trace_level", function()
  it("gives no trace function for level 0 (and nil or false)", function()
    assert.is_nil(imapsift.trace_level(0))
    assert.is_nil(imapsift.trace_level(nil))
    assert.is_nil(imapsift.trace_level(false))
  end)

  it("shows only NO, BAD and BYE at levels 1 and 2", function()
    local want = { "S: A2 NO [NONEXISTENT] no such mailbox\n",
      "S: * BAD line too long\n", "S: * BYE shutting down\n" }
    for _, n in ipairs{ 1, 2 } do
      local fn, out = play(n)
      assert.is_function(fn)
      assert.same(want, out)
    end
  end)

  it("adds the capabilities at level 3", function()
    local _, out = play(3)
    assert.same({ "S: * OK [CAPABILITY IMAP4rev1 IDLE] ready\n",
      "S: * CAPABILITY IMAP4rev1 IDLE SORT\n",
      "S: A1 OK [CAPABILITY IMAP4rev1 SORT] logged in\n",
      "S: A2 NO [NONEXISTENT] no such mailbox\n",
      "S: * BAD line too long\n", "S: * BYE shutting down\n" }, out)
  end)

  it("shows every line both ways from level 4 (imaplib: > 3)", function()
    local _, out = play(4)
    assert.equal(#TRAFFIC, #out)
    for i, l in ipairs(TRAFFIC) do
      assert.equal(l[1] .. ": " .. l[2] .. "\n", out[i])
    end
  end)

  it("puts the time before every line from level 5", function()
    for _, n in ipairs{ 5, 9 } do
      local _, out = play(n)
      assert.equal(#TRAFFIC, #out)
      for i, l in ipairs(TRAFFIC) do
        local stamp, rest = out[i]:match("^(%d%d:%d%d:%d%d) (.*)$")
        assert.is_string(stamp, out[i])
        assert.equal(l[1] .. ": " .. l[2] .. "\n", rest)
      end
    end
  end)

  it("escapes control characters", function()
    local fn, out = collector(4)
    fn("S", "* NO a\27[2Jb\r")
    assert.same({ "S: * NO a\\x1b[2Jb\\x0d\n" }, out)
  end)

  it("writes to a file", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    imapsift.trace_level(4, f)("C", "A1 NOOP")
    f:close()
    f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.equal("C: A1 NOOP\n", text)
  end)

  it("raises for a level that is not a whole number >= 0", function()
    assert.has_error(function() imapsift.trace_level(-1) end,
      "bad argument #1 to 'trace_level' (debug level 0..5 expected, got -1)")
    assert.has_error(function() imapsift.trace_level(1.5) end)
    assert.has_error(function() imapsift.trace_level("4") end)
    assert.has_error(function() imapsift.trace_level(4, 42) end)
  end)
end)

-- The fake server: greeting, NOOP answered with an untagged NO, LOGOUT.
local function scenario()
  return fake.new{ fake.greeting(), { recv = "^A1 NOOP\r\n$" },
    { send = "* NO disk almost full\r\n" }, { reply = "OK done" },
    { recv = "^A2 LOGOUT\r\n$" }, { send = "* BYE bye\r\n" },
    { reply = "OK" } }
end

-- Runs the scenario with connect options extra, io.stderr replaced by a
-- collector; returns what was written to it.
local function stderr_of(extra, during)
  local srv = scenario()
  local lines = {}
  local real = io.stderr
  io.stderr = { write = function(_, ...) -- luacheck: ignore 122
    for _, s in ipairs{ ... } do lines[#lines + 1] = s end
  end }
  local ok, err = pcall(function()
    local imap = imapsift.connect(srv:options(extra))
    if during then during(imap) end
    imap:noop()
    imap:logout()
  end)
  io.stderr = real -- luacheck: ignore 122
  assert(ok, err)
  assert.equal("done", srv:status())
  srv:cleanup()
  return table.concat(lines)
end

describe("connect{ debug = n }", function()
  it("traces every line on stderr at level 4", function()
    assert.equal(table.concat({
      "S: * OK [CAPABILITY IMAP4rev1] fake ready\n",
      "C: A1 NOOP\n", "S: * NO disk almost full\n", "S: A1 OK done\n",
      "C: A2 LOGOUT\n", "S: * BYE bye\n", "S: A2 OK\n" }),
      stderr_of{ debug = 4 })
  end)

  it("shows only the server's complaints at level 1", function()
    assert.equal("S: * NO disk almost full\nS: * BYE bye\n",
      stderr_of{ debug = 1 })
  end)

  it("is silent at level 0", function()
    assert.equal("", stderr_of{ debug = 0 })
  end)

  it("gives way to an explicit trace option", function()
    local seen = {}
    local out = stderr_of{ debug = 4,
      trace = function(dir, line) seen[#seen + 1] = dir .. " " .. line end }
    assert.equal("", out)
    assert.equal("S * OK [CAPABILITY IMAP4rev1] fake ready", seen[1])
    assert.equal(7, #seen)
  end)

  it("can be changed later with set_trace(n)", function()
    local out = stderr_of({ debug = 0 }, function(imap)
      imap:set_trace(1)
    end)
    assert.equal("S: * NO disk almost full\nS: * BYE bye\n", out)
    out = stderr_of({ debug = 4 }, function(imap) imap:set_trace(0) end)
    assert.equal("S: * OK [CAPABILITY IMAP4rev1] fake ready\n", out)
  end)

  it("writes to the real stderr of a script", function()
    local srv = scenario()
    local chunk = ("package.path = %q; package.cpath = %q; " ..
      "local c = require('imapsift').connect{ command = %q, debug = 4, " ..
      "timeout = 5 }; c:noop(); c:logout()"):format(package.path,
      package.cpath, srv:command())
    local p = assert(io.popen("lua5.4 -e '" ..
      chunk:gsub("'", "'\\''") .. "' 2>&1 >/dev/null"))
    local err = p:read("a")
    p:close()
    srv:cleanup()
    assert.matches("C: A1 NOOP\n", err, 1, true)
    assert.matches("S: * NO disk almost full\n", err, 1, true)
  end)
end)

describe("imapsift.util", function()
  it("is merged into the imapsift module", function()
    for k, v in pairs(util) do assert.equal(v, imapsift[k], k) end
    assert.is_table(imapsift.internaldate)
    assert.is_function(imapsift.internaldate.parse)
  end)
end)
