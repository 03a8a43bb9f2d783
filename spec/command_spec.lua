-- command_spec.lua: the command encoder seen from Lua (c/lua_command.c):
-- exact wire bytes, traces, segment ends, argument kinds and errors.
local core = require "imapsift.core"

local function encode(...)
  local wire, trace, segs = core.encode(...)
  return wire, trace, segs
end

-- The error message encode raises for args, with its position prefix
-- removed.
local function encode_error(args, flags)
  local ok, err = pcall(core.encode, "A1", "X", args, flags)
  assert.is_false(ok)
  assert.is_string(err)
  return (err:gsub("^[^:]*:%d+: ", ""))
end

describe("core.encode", function()
  it("sends LOGIN with a quoted password and hides it in the trace", function()
    local wire, trace, segs = encode("A1", "LOGIN",
      { { str = "alice" }, { secret = "p w\"d" } })
    assert.are.equal('A1 LOGIN alice "p w\\"d"\r\n', wire)
    assert.are.equal("A1 LOGIN alice ***", trace)
    assert.are.same({}, segs)
  end)

  it("sends an 8-bit password as a literal and hides even its length",
    function()
      local wire, trace, segs = encode("A1", "LOGIN",
        { { str = "alice" }, { secret = "pässwörd" } })
      assert.are.equal("A1 LOGIN alice {10}\r\npässwörd\r\n", wire)
      assert.are.equal("A1 LOGIN alice ***", trace)
      assert.are.same({ #"A1 LOGIN alice {10}\r\n" }, segs)
      assert.are.equal("A1 LOGIN alice {10}\r\n", wire:sub(1, segs[1]))
    end)

  it("quotes or escapes str as needed", function()
    local wire, trace = encode("T", "X", {
      { str = "atom" }, { str = "" }, { str = "a b" }, { str = 'q"' },
      { str = "b\\s" }, { str = "a]" }, { str = "(x)" },
    })
    local want = 'T X atom "" "a b" "q\\"" "b\\\\s" "a]" "(x)"'
    assert.are.equal(want .. "\r\n", wire)
    assert.are.equal(want, trace)
  end)

  it("sends qstr quoted even when an atom would do", function()
    local wire = encode("T", "SEARCH", { "SUBJECT", { qstr = "hello" } })
    assert.are.equal('T SEARCH SUBJECT "hello"\r\n', wire)
  end)

  it("sends strings with CR or LF as literals", function()
    local wire, trace, segs = encode("T", "X",
      { { str = "two\r\nlines" }, "END" })
    assert.are.equal("T X {10}\r\ntwo\r\nlines END\r\n", wire)
    assert.are.equal("T X {10}<10 bytes> END", trace)
    assert.are.same({ 10 }, segs)
  end)

  it("sends atoms, sets, flags and integers as given", function()
    local wire, trace = encode("a1", "UID STORE",
      { { seqset = "1:5,7" }, "+FLAGS.SILENT",
        { { flag = "\\Seen" }, { flag = "\\Flagged" } } })
    assert.are.equal("a1 UID STORE 1:5,7 +FLAGS.SILENT (\\Seen \\Flagged)\r\n",
      wire)
    assert.are.equal("a1 UID STORE 1:5,7 +FLAGS.SILENT (\\Seen \\Flagged)",
      trace)
    assert.are.equal("T X 0 42 9007199254740993\r\n",
      (encode("T", "X", { 0, 42, 9007199254740993 })))
    assert.are.equal("T X 3\r\n", (encode("T", "X", { 3.0 })))
  end)

  it("nests lists and glues without spaces", function()
    local wire, trace = encode("A7", "UID FETCH", { { seqset = "1:*" }, {
      "UID", { fetch = "BODY.PEEK[HEADER.FIELDS (SUBJECT)]" },
      { glue = "<0.100>" }, { "a", {}, { { str = "b c" } } },
    } })
    local want = "A7 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]"
      .. '<0.100> (a () ("b c")))'
    assert.are.equal(want .. "\r\n", wire)
    assert.are.equal(want, trace)
  end)

  it("encodes mailbox names as modified UTF-7, INBOX in any case", function()
    local wire = encode("T", "RENAME",
      { { mailbox = "Entwürfe" }, { mailbox = "a b/日本語" } })
    assert.are.equal('T RENAME Entw&APw-rfe "a b/&ZeVnLIqe-"\r\n', wire)
    assert.are.equal("T SELECT INBOX\r\n",
      (encode("T", "SELECT", { { mailbox = "iNbOx" } })))
    assert.are.equal("T SELECT INBOX.x\r\n",
      (encode("T", "SELECT", { { mailbox = "INBOX.x" } })))
    assert.are.equal('T SELECT ""\r\n',
      (encode("T", "SELECT", { { mailbox = "" } })))
    assert.are.equal("T SELECT A&-B\r\n",
      (encode("T", "SELECT", { { mailbox = "A&B" } })))
  end)

  it("sends mailbox names as UTF-8 when utf8 is on", function()
    local wire, _, segs = encode("T", "SELECT", { { mailbox = "Entwürfe" } },
      { utf8 = true })
    assert.are.equal('T SELECT "Entwürfe"\r\n', wire)
    assert.are.same({}, segs)
    assert.are.equal('T SELECT "p\195\169w"\r\n',
      (encode("T", "SELECT", { { str = "p\195\169w" } }, { utf8 = true })))
  end)

  it("sends literals, synchronizing unless LITERAL+ or LITERAL-", function()
    local msg = "Subject: hi\r\n\r\nbody\r\n"
    local args = { { mailbox = "INBOX" }, { { flag = "\\Seen" } },
      { literal = msg } }
    local wire, trace, segs = encode("A3", "APPEND", args)
    assert.are.equal("A3 APPEND INBOX (\\Seen) {21}\r\n" .. msg .. "\r\n",
      wire)
    assert.are.equal("A3 APPEND INBOX (\\Seen) {21}<21 bytes>", trace)
    assert.are.same({ #"A3 APPEND INBOX (\\Seen) {21}\r\n" }, segs)

    wire, trace, segs = encode("A3", "APPEND", args, { literal_plus = true })
    assert.are.equal("A3 APPEND INBOX (\\Seen) {21+}\r\n" .. msg .. "\r\n",
      wire)
    assert.are.equal("A3 APPEND INBOX (\\Seen) {21+}<21 bytes>", trace)
    assert.are.same({}, segs)

    local big = ("x"):rep(4097)
    wire, trace, segs = encode("T", "X",
      { { literal = big:sub(2) }, { literal = big } }, { literal_minus = true })
    assert.are.equal("T X {4096+}\r\n" .. big:sub(2) .. " {4097}\r\n" .. big
      .. "\r\n", wire)
    assert.are.equal("T X {4096+}<4096 bytes> {4097}<4097 bytes>", trace)
    assert.are.same({ #"T X {4096+}\r\n" + 4096 + #" {4097}\r\n" }, segs)
  end)

  it("records every synchronizing literal as a segment end", function()
    local wire, _, segs = encode("T", "X",
      { { literal = "ab" }, { str = "c\nd" }, { secret = "\n" } })
    assert.are.equal("T X {2}\r\nab {3}\r\nc\nd {1}\r\n\n\r\n", wire)
    assert.are.same({ 9, 17, 26 }, segs)
    for _, e in ipairs(segs) do
      assert.are.equal("\r\n", wire:sub(e - 1, e))
    end
  end)

  it("sends literal8 only with binary", function()
    local wire, trace = encode("T", "APPEND",
      { "INBOX", { literal = "a\0b", binary = true } }, { binary = true })
    assert.are.equal("T APPEND INBOX ~{3}\r\na\0b\r\n", wire)
    assert.are.equal("T APPEND INBOX ~{3}<3 bytes>", trace)
    assert.matches("argument 2: .*BINARY",
      encode_error({ "INBOX", { literal = "x", binary = true } }))
  end)

  it("keeps the trace on one line", function()
    local _, trace = encode("T", "X", { { str = "a\r\nb" },
      { literal = "\r\n\r\n" }, { secret = "x\ny" } })
    assert.are.equal("T X {4}<4 bytes> {4}<4 bytes> ***", trace)
    assert.is_nil(trace:find("[\r\n]"))
  end)

  it("refuses bad arguments and names them", function()
    assert.are.equal("argument 3: a table needs str, qstr, mailbox, secret,"
      .. " literal, glue, flag, seqset, fetch or raw, or must be an array",
      encode_error({ "a", "b", { foo = "x" } }))
    assert.matches("^argument 2: expected a string, an integer or a table,"
      .. " got boolean", encode_error({ "a", true }))
    assert.matches("^argument 1: .*function", encode_error({ print }))
    assert.matches("^argument 1: number is negative", encode_error({ -1 }))
    assert.matches("^argument 1: number is not an integer",
      encode_error({ 1.5 }))
    assert.matches("^argument 2%.3: raw text has a CR, LF or NUL",
      encode_error({ "a", { "b", "c", { raw = "d\r\n" } } }))
    assert.matches("^argument 1: .*NUL", encode_error({ "a\0" }))
    assert.matches("^argument 1: raw text ends in a literal marker",
      encode_error({ { raw = "{5}" } }))
    assert.matches("^argument 1: raw text cannot be empty",
      encode_error({ { raw = "" } }))
    assert.matches("^argument 1: str must be a string, got number",
      encode_error({ { str = 5 } }))
    assert.matches("^argument 1: a table may have only one of",
      encode_error({ { str = "a", qstr = "b" } }))
    assert.matches("^argument 1: unexpected field beside str",
      encode_error({ { str = "a", binary = true } }))
    assert.matches("^argument 1: unexpected field beside secret",
      encode_error({ { secret = "a", "x" } }))
    assert.matches("^argument 2: .*NUL", encode_error({ "a", { str = "\0" } }))
    assert.matches("^argument 1: .*NUL", encode_error({ { literal = "\0" } }))
    assert.matches("^argument 1: mailbox name is not valid UTF%-8",
      encode_error({ { mailbox = "\192\175" } }))
    assert.matches("^argument 1: mailbox name is not valid UTF%-8",
      encode_error({ { mailbox = "\192\175" } }, { utf8 = true }))
    assert.matches("^argument 1%.2: .* got nil",
      encode_error({ { 1, nil, 3 } }))
    assert.matches("the argument list must be an array",
      encode_error({ str = "x" }))
  end)

  it("never puts secrets in error messages", function()
    local msg = encode_error({ { secret = "hunter2\0" } })
    assert.is_nil(msg:find("hunter2", 1, true))
  end)

  it("limits nesting depth and survives cycles", function()
    local t = {}
    t[1] = t
    assert.matches("nested deeper than 32", encode_error({ t }))
    local deep = { "x" }
    for _ = 1, 31 do deep = { deep } end
    local wire = encode("T", "X", { deep })
    assert.are.equal("T X " .. ("("):rep(32) .. "x" .. (")"):rep(32) .. "\r\n",
      wire)
    assert.matches("^argument 1%.1%.1.*nested deeper than 32",
      encode_error({ { deep } }))
  end)

  it("caps the command size", function()
    assert.are.equal("T X abc\r\n",
      (encode("T", "X", { "abc" }, { max_bytes = 9 })))
    assert.are.equal("command longer than the limit of 7 bytes",
      encode_error({ "a" }, { max_bytes = 7 }))
    assert.matches("^argument 2: command longer than the limit of 100 bytes",
      encode_error({ "a", { literal = ("x"):rep(200) } }, { max_bytes = 100 }))
  end)

  it("limits synchronizing literals per command", function()
    local args = {}
    for i = 1, 64 do args[i] = { literal = "x" } end
    local _, _, segs = encode("T", "X", args)
    assert.are.equal(64, #segs)
    args[65] = { literal = "x" }
    assert.matches("^argument 65: more than 64 synchronizing literals",
      encode_error(args))
    local _, _, none = encode("T", "X", args, { literal_plus = true })
    assert.are.same({}, none)
  end)

  it("refuses bad tags, names and parameter types", function()
    assert.matches("invalid command tag",
      select(2, pcall(core.encode, "A+1", "NOOP", {})))
    assert.matches("invalid command name",
      select(2, pcall(core.encode, "A1", "NOOP\r\nX", {})))
    assert.is_false(pcall(core.encode, "A1", "NOOP"))
    assert.is_false(pcall(core.encode, "A1", "NOOP", "x"))
    assert.is_false(pcall(core.encode, "A1", "NOOP", {}, 5))
    assert.is_false(pcall(core.encode, "A1", "NOOP", {}, { max_bytes = 0 }))
  end)

  it("ignores metatables on argument tables", function()
    local args = setmetatable({}, { __index = function() error("boom") end,
                                     __len = function() error("boom") end })
    args[1] = setmetatable({ str = "a b" }, { __index = error })
    assert.are.equal('T X "a b"\r\n', (encode("T", "X", args)))
  end)
end)

describe("core.encode argument forms", function()
  it("sends a plain string as one value: an atom only when it is one",
    function()
      local wire, trace = encode("T", "X", { "RETURN", "news \\Deleted",
        "1:*", "\\Seen", "a)", "{5}", "", "x\r\ny", "caf\195\169" })
      assert.are.equal('T X RETURN "news \\\\Deleted" "1:*" "\\\\Seen" "a)"'
        .. ' "{5}" "" {4}\r\nx\r\ny {5}\r\ncaf\195\169\r\n', wire)
      assert.are.equal('T X RETURN "news \\\\Deleted" "1:*" "\\\\Seen" "a)"'
        .. ' "{5}" "" {4}<4 bytes> {5}<5 bytes>', trace)
    end)

  it("sends flags, sets and fetch items checked by their grammar",
    function()
      local wire = encode("T", "UID FETCH", { { seqset = "1:5,7,10:*" }, {
        { fetch = "UID" }, { fetch = "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.100>" },
        { fetch = "binary.peek[1.2]" } } })
      assert.are.equal("T UID FETCH 1:5,7,10:* (UID BODY.PEEK[HEADER.FIELDS"
        .. " (SUBJECT FROM)]<0.100> binary.peek[1.2])\r\n", wire)
      assert.are.equal("T STORE $ +FLAGS (\\Seen $Label1 Junk)\r\n",
        (encode("T", "STORE", { { seqset = "$" }, "+FLAGS",
          { { flag = "\\Seen" }, { flag = "$Label1" }, { flag = "Junk" } } })))
    end)

  it("refuses a value outside its grammar, naming the argument", function()
    assert.matches('^argument 3%.2: invalid flag "news \\Deleted": ',
      encode_error({ "1", "+FLAGS", { { flag = "\\Seen" },
        { flag = "news \\Deleted" } } }))
    assert.matches("^argument 1: invalid flag .*PERMANENTFLAGS",
      encode_error({ { flag = "\\*" } }))
    assert.matches('^argument 1: invalid message set "1:0"',
      encode_error({ { seqset = "1:0" } }))
    assert.matches('^argument 1: invalid message set "4294967296"',
      encode_error({ { seqset = "4294967296" } }))
    assert.matches('^argument 2%.1: invalid fetch item "FLAGS %(BODY%)"',
      encode_error({ "1", { { fetch = "FLAGS (BODY)" } } }))
    assert.matches("^argument 1: invalid fetch item .*<0%.100>",
      encode_error({ { fetch = "BODY[]<0.0>" } }))
    assert.matches("^argument 2: glued text has byte 0x20",
      encode_error({ "A", { glue = " \\Deleted" } }))
    assert.matches("^argument 1: flag must be a string, got table",
      encode_error({ { flag = {} } }))
  end)

  it("sends raw text verbatim, and only raw text", function()
    local wire = encode("T", "XLIST", { { qstr = "" }, { raw = "*" },
      { raw = "(a \\b" } })
    assert.are.equal('T XLIST "" * (a \\b\r\n', wire)
  end)

  it("sends literal8 in APPEND's UTF8 item once UTF-8 is enabled",
    function()
      local args = { "INBOX", "UTF8",
        { { literal = "Subject: \195\169\r\n\r\n", binary = true } } }
      assert.are.equal("T APPEND INBOX UTF8 (~{15}\r\nSubject: \195\169"
        .. "\r\n\r\n)\r\n", (encode("T", "APPEND", args, { utf8 = true })))
      assert.matches("^argument 3%.1: .*BINARY",
        encode_error(args))
    end)

  it("checks values alone with core.valid", function()
    assert.is_true(core.valid("flag", "\\Seen"))
    assert.is_true(core.valid("atom", "UTF8=ACCEPT"))
    assert.is_true(core.valid("seqset", "1:*"))
    assert.is_true(core.valid("fetch", "RFC822.SIZE"))
    local ok, why = core.valid("flag", "a b")
    assert.is_false(ok)
    assert.matches("atom", why)
    assert.is_false((core.valid("atom", 5)))
    assert.has_error(function() core.valid("bogus", "x") end)
  end)
end)

describe("core.quote", function()
  it("quotes like an astring", function()
    assert.are.equal("abc", core.quote("abc"))
    assert.are.equal('""', core.quote(""))
    assert.are.equal('"a b"', core.quote("a b"))
    assert.are.equal('"say \\"hi\\" \\\\o/"', core.quote('say "hi" \\o/'))
    assert.are.equal('"x]"', core.quote("x]"))
  end)

  it("produces a literal when quoting cannot carry the string", function()
    assert.are.equal("{4}\r\na\r\nb", core.quote("a\r\nb"))
    assert.are.equal("{2}\r\n\195\169", core.quote("\195\169"))
    assert.are.equal('"\195\169"', core.quote("\195\169", { utf8 = true }))
    assert.are.equal("{4+}\r\na\r\nb",
      core.quote("a\r\nb", { literal_plus = true }))
  end)

  it("refuses NUL and non-strings", function()
    assert.has_error(function() core.quote("a\0b") end)
    assert.has_error(function() core.quote({}) end)
  end)
end)
