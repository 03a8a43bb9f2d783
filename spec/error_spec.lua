-- Specs for imapsift.error: structured error values.
local errors = require "imapsift.error"

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
