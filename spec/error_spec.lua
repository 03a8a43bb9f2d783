-- Specs for imapsift.error: structured error values, and the escaping
-- of server text on its way to a terminal or a log (also in traces).
local errors = require "imapsift.error"
local fake = require "support.fake"
local util = require "support.util"

describe("imapsift.error", function()
  it("reads well for server refusals", function()
    local e = errors.new{ kind = "no", command = 'COPY to "Archive/2024"',
      code = "TRYCREATE", text = "Mailbox doesn't exist" }
    assert.equal('COPY to "Archive/2024" failed: NO [TRYCREATE] Mailbox doesn\'t exist',
      tostring(e))
    assert.is_true(errors.is(e, "no"))
    assert.is_false(errors.is(e, "bad"))
    assert.is_false(errors.is("string"))
  end)

  it("escapes control characters from server text", function()
    local e = errors.new{ kind = "bad", command = "NOOP", text = "evil\27[2J\r\nline" }
    assert.equal("NOOP failed: BAD evil\\x1b[2J\\x0d\\x0aline", tostring(e))
    assert.equal("caf\195\169 \\", errors.escape("caf\195\169 \\"))
  end)

  it("escapes C1 controls, bidi overrides and bytes that are not UTF-8",
    function()
      -- U+009B (CSI), U+0085, U+202A..U+202E, U+2066..U+2069
      assert.equal("a\\u{9b}[2Jb\\u{85}", errors.escape("a\194\155[2Jb\194\133"))
      assert.equal("\\u{202a}\\u{202e}gpj.exe\\u{2066}\\u{2069}",
        errors.escape("\226\128\170\226\128\174gpj.exe\226\129\166\226\129\169"))
      -- a lone 0x9b is CSI to an 8-bit terminal; overlong forms and
      -- surrogates are not UTF-8 either
      assert.equal("\\x9b[2J \\xe9t\\xe9", errors.escape("\155[2J \233t\233"))
      assert.equal("\\xc0\\x9b \\xe0\\x82\\x85 \\xed\\xa0\\x80",
        errors.escape("\192\155 \224\130\133 \237\160\128"))
      -- other UTF-8 stays readable, including neighbours of the ranges
      local ok = "\194\160 \226\128\169 \226\128\175 \226\129\165 " ..
        "\226\129\170 \240\159\152\128 \230\151\165"
      assert.equal(ok, errors.escape(ok))
      local e = errors.new{ kind = "no", command = "SELECT \226\128\174x",
        text = "no \194\155" }
      assert.equal("SELECT \\u{202e}x failed: NO no \\u{9b}", tostring(e))
    end)

  it("names library failures by kind", function()
    local e = errors.from_core({ kind = "timeout", text = "no data for 5 s" }, "FETCH")
    assert.equal("FETCH failed: (timeout) no data for 5 s", tostring(e))
    assert.has_error(function() errors.raise{ kind = "usage", text = "x" } end)
  end)

  it("turns tagged responses into errors", function()
    local e = errors.from_response({ status = "NO", code = { name = "TRYCREATE" },
      text = "no such mailbox" }, "APPEND")
    assert.equal("no", e.kind)
    assert.equal("TRYCREATE", e.code)
  end)
end)

describe("escaping server text", function()
  local session = fake.session()
  after_each(function() session:cleanup() end)

  it("shows C1 controls and bidi overrides escaped in traces", function()
    local lines, trace = util.recorder()
    local imap, srv = session:start{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n" },
      { recv = "^A1 NOOP\r\n$" },
      { send = "* OK evil \194\155 \226\128\174 \226\129\166 caf\195\169\r\n" },
      { reply = "OK" } }
    imap:set_trace(trace)
    imap:noop()
    local line
    for _, l in ipairs(lines) do
      if l:find("evil", 1, true) then line = l end
    end
    assert.equal("S: * OK evil \\u{9b} \\u{202e} \\u{2066} caf\195\169", line)
    session.finish(imap, srv)
    assert.equal("done", srv:status())
  end)
end)
