-- malformed_spec.lua: responses whose framing is intact but whose content
-- breaks the grammar (c/parser.c, c/response_check.c, c/lua_response.c).
-- They come out as tables marked `malformed`, the parser stays in sync,
-- and only framing errors still stop it. Each case is parsed whole, split
-- in two at every offset and fed one byte at a time.
local core = require "imapsift.core"

local NEXT = "* 9 EXISTS\r\n"
local next_table = { kind = "untagged", type = "EXISTS", n = 9 }

local feed_chunks = require("support.util").feed_chunks

-- The wire followed by a good response gives `expected` and then that
-- response, however it is cut.
local function check(wire, expected)
  wire = wire .. NEXT
  local want = { expected, next_table }
  assert.same(want, core.parse(wire))
  for i = 1, #wire - 1 do
    assert.same(want, feed_chunks { wire:sub(1, i), wire:sub(i + 1) },
      "split at offset " .. i)
  end
  local bytes = {}
  for i = 1, #wire do
    bytes[i] = wire:sub(i, i)
  end
  assert.same(want, feed_chunks(bytes), "one byte at a time")
end

local function untagged(type, why)
  return { kind = "untagged", type = type, malformed = why }
end

describe("a malformed response", function()
  it("keeps its tag and status, so its command can be failed", function()
    check("A7 OK [UIDNEXT 0] done\r\n",
      { kind = "tagged", tag = "A7", status = "OK", malformed =
        "the number of a response code is out of range (1 to 4294967295)" })
    check("A8 NO [X (a] b\r\n",
      { kind = "tagged", tag = "A8", status = "NO",
        malformed = "unterminated response code at offset 14" })
  end)

  it("keeps the tag of a tagged line without a status", function()
    check("A9 BYE later\r\n",
      { kind = "tagged", tag = "A9", malformed =
        "tagged response does not start with OK, NO or BAD (offset 6)" })
    check("A9\r\n", { kind = "tagged", tag = "A9",
      malformed = "tagged response without a status at offset 2" })
  end)

  it("is untagged when its tag is not one", function()
    check("A{9 OK\r\n",
      untagged("", "byte 0x7b in the tag at offset 1"))
    check("\r\n", untagged("",
      "response starts with byte 0x0d, not '*', '+' or a tag"))
  end)

  it("names its status or keyword as its type", function()
    check("* OK [PERMANENTFLAGS (\\Seen] x\r\n",
      { kind = "untagged", type = "OK", status = "OK",
        malformed = "unterminated response code at offset 30" })
    check("* 3 fetch (FLAGS (\\Seen) UID \"x\\q\")\r\n",
      untagged("FETCH", "bad escape '\\' byte 0x71 in a quoted string at "
        .. "offset 32"))
    check("* LIST (\\Noselect \"/\" x\r\n",
      untagged("LIST", "line ends with 1 list(s) still open at offset 23"))
    check("+ [ALERT (] go\r\n", { kind = "continue",
      malformed = "unterminated response code at offset 14" })
  end)

  it("holds no server bytes in its reason", function()
    local got = core.parse("A1 \27[31mEVIL\r\n* 1 FETCH (UID \"\27\\x\")\r\n")
    for _, r in ipairs(got) do
      assert.is_string(r.malformed)
      assert.is_nil(r.malformed:find("\27", 1, true))
      assert.is_nil(r.malformed:find("EVIL", 1, true))
    end
  end)
end)

describe("numbers", function()
  it("of 32 bits are refused past 4294967295", function()
    check("* 4294967296 EXISTS\r\n", untagged("EXISTS",
      "an EXISTS or RECENT count is out of range (0 to 4294967295)"))
    check("* 1 FETCH (UID 4294967296)\r\n", untagged("FETCH",
      "FETCH UID is out of range (1 to 4294967295)"))
    check("* 1 FETCH (RFC822.SIZE 99999999999999999999)\r\n",
      untagged("FETCH", "FETCH RFC822.SIZE is out of range "
        .. "(0 to 4294967295)"))
    check("* SEARCH 2 4294967296\r\n", untagged("SEARCH",
      "a SEARCH result is out of range (1 to 4294967295)"))
    check("* STATUS INBOX (MESSAGES 4294967296)\r\n", untagged("STATUS",
      "a STATUS count is out of range (0 to 4294967295)"))
    check("A1 OK [COPYUID 1 1:2 5:4294967296] done\r\n",
      { kind = "tagged", tag = "A1", status = "OK", malformed =
        "COPYUID destination UIDs is not a set of numbers from 1 to "
        .. "4294967295" })
    check("A1 OK [APPENDUID 4294967296 1] done\r\n",
      { kind = "tagged", tag = "A1", status = "OK", malformed =
        "APPENDUID uidvalidity is out of range (1 to 4294967295)" })
  end)

  it("that must not be zero are refused at zero", function()
    check("* 0 EXPUNGE\r\n", untagged("EXPUNGE",
      "an EXPUNGE sequence number is out of range (1 to 4294967295)"))
    check("* 0 FETCH (FLAGS ())\r\n", untagged("FETCH",
      "a FETCH sequence number is out of range (1 to 4294967295)"))
    check("* OK [UIDVALIDITY 0] x\r\n", { kind = "untagged", type = "OK",
      status = "OK", malformed =
        "the number of a response code is out of range (1 to 4294967295)" })
  end)

  it("are taken at their bounds, and MODSEQ keeps 63 bits", function()
    local got = core.parse("* 4294967295 FETCH (UID 4294967295 "
      .. "MODSEQ (9223372036854775807))\r\n"
      .. "* OK [HIGHESTMODSEQ 9223372036854775807] x\r\n")
    assert.same({ kind = "untagged", type = "FETCH", seq = 4294967295,
                  uid = 4294967295, modseq = 9223372036854775807 }, got[1])
    assert.equal(9223372036854775807, got[2].code.value)
    check("* 1 FETCH (MODSEQ (9223372036854775808))\r\n",
      untagged("FETCH", "FETCH MODSEQ is out of range (63 bits)"))
  end)
end)

describe("FETCH data", function()
  it("of a known name and a wrong type is malformed", function()
    local cases = {
      { "UID (1)", "FETCH UID is not a number" },
      { "FLAGS NIL", "FETCH FLAGS or ENVELOPE is not a list" },
      { "ENVELOPE \"x\"", "FETCH FLAGS or ENVELOPE is not a list" },
      { "RFC822.SIZE \"x\"", "FETCH RFC822.SIZE is not a number" },
      { "MODSEQ 5", "FETCH MODSEQ is not a list" },
      { "BODY \"s\"", "BODYSTRUCTURE part is not a list" },
      { "BINARY.SIZE[2] NIL", "FETCH BINARY.SIZE is not a number" },
      { "BODY[] (x)", "FETCH section data is not a string or NIL" },
      { "UID 3 FLAGS", "FETCH attribute without a value" },
      { "(a) 1 UID 4", "FETCH attribute name is not an atom" },
    }
    for _, c in ipairs(cases) do
      check("* 7 FETCH (" .. c[1] .. ")\r\n", untagged("FETCH", c[2]))
    end
  end)

  it("with a broken BODYSTRUCTURE is malformed", function()
    local part = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)"
    local cases = {
      { "(\"TEXT\")", "BODYSTRUCTURE part without a type and subtype" },
      { "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" -5 1)",
        "BODYSTRUCTURE size is not a number" },
      { "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 4294967296 1)",
        "BODYSTRUCTURE size is out of range (0 to 4294967295)" },
      { "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10)",
        "BODYSTRUCTURE line count is missing" },
      { "(\"A\" \"B\" \"charset\" NIL NIL \"7BIT\" 1)",
        "BODYSTRUCTURE parameters are not a list or NIL" },
      { "(" .. part .. part .. ")",
        "multipart BODYSTRUCTURE without a subtype" },
      { "(" .. part .. "(\"TEXT\") \"MIXED\")",
        "BODYSTRUCTURE part without a type and subtype" },
    }
    for _, c in ipairs(cases) do
      check("* 2 FETCH (UID 5 BODYSTRUCTURE " .. c[1] .. ")\r\n",
        untagged("FETCH", c[2]))
    end
  end)

  it("nested past any sane depth is malformed, not a C stack overflow",
    function()
      local body = ("("):rep(150) .. "\"A\" \"B\" NIL NIL NIL \"7BIT\" 1"
        .. (")"):rep(150)
      local got = core.parse("* 1 FETCH (BODYSTRUCTURE " .. body .. ")\r\n",
        { max_depth = 1000 })
      assert.equal("BODYSTRUCTURE nested deeper than 100 parts",
        got[1].malformed)
    end)
end)

describe("framing errors", function()
  it("still stop the parser for good", function()
    for _, wire in ipairs {
      "* X ) {5}\r\nhello\r\n",     -- a fault, then a literal announced
      "* X \"ab {5}\r\nhello\r\n",  -- a quoted string cut by a literal
      "* OK [X {5}\r\nhello\r\n",   -- a code cut by a literal
      "A1 {5}\r\nhello\r\n",        -- a tagged literal in place of OK
      "* X )\rx\r\n",               -- a CR without LF
      "* X {5x}\r\n",               -- a literal size that is not one
    } do
      local p = core.parser()
      local ok, err = pcall(p.feed, p, "* 1 EXISTS\r\n" .. wire)
      assert.is_false(ok, wire)
      assert.equal("protocol", err.kind, wire)
      assert.same({ { kind = "untagged", type = "EXISTS", n = 1 } },
        err.responses)
      local ok2, err2 = pcall(p.feed, p, NEXT)
      assert.is_false(ok2)
      assert.equal(err.text, err2.text)
    end
  end)

  it("include broken limits, even on a malformed line", function()
    local got, err = core.parse("* X ) " .. ("x"):rep(100) .. "\r\n",
      { max_line = 50 })
    assert.is_nil(got)
    assert.equal("limit", err.kind)
  end)
end)
