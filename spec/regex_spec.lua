-- Specs for core.regex (PCRE2 in UTF + UCP mode, c/lua_regex.c),
-- core.pcre2_version and core.iconv (c/lua_iconv.c).
local core = require "imapsift.core"

describe("core.regex", function()
  it("matches with Unicode classes and case folding", function()
    assert.is_true(core.regex("^\\w+$"):match("Grüße"))
    assert.is_true(core.regex("^\\w+$"):match("Привет"))
    assert.is_false(core.regex("^\\w+$"):match("a-b"))
    assert.is_true(core.regex("^.{5}$"):match("Grüße")) -- characters
    assert.is_true(core.regex("\\p{Cyrillic}"):match("x П"))
    assert.is_true(core.regex("^\\d$"):match("٣")) -- Arabic-Indic three
  end)

  it("folds non-ASCII case with the i flag only", function()
    assert.is_true(core.regex("grüße", "i"):match("GRÜßE"))
    assert.is_true(core.regex("привет", "i"):match("ПРИВЕТ"))
    assert.is_false(core.regex("привет"):match("ПРИВЕТ"))
    assert.is_true(core.regex("café", "i"):match("CAFÉ"))
  end)

  it("takes the m, s and x flags", function()
    assert.is_true(core.regex("^b$", "m"):match("a\nb\nc"))
    assert.is_false(core.regex("^b$"):match("a\nb\nc"))
    assert.is_true(core.regex("a.b", "s"):match("a\nb"))
    assert.is_false(core.regex("a.b"):match("a\nb"))
    assert.is_true(core.regex("a b # comment", "x"):match("ab"))
  end)

  it("finds with string.find positions and captures", function()
    local rx = core.regex("(\\w+)@(\\w+)(\\.org)?")
    assert.same({ 4, 13, "jörg", "host", false },
      { rx:find("to jörg@host.com") })
    assert.same({ 1, 7, "a", "b", ".org" }, { rx:find("a@b.org x") })
    assert.is_nil(rx:find("no address"))
    assert.same({ 5, 7, "c", "d", false }, { rx:find("a@b c@d", 4) })
    assert.same({ 1, 0 }, { core.regex(""):find("abc") })
  end)

  it("treats a subject that is not UTF-8 as no match", function()
    local rx = core.regex("a")
    assert.is_false(rx:match("a\255"))
    assert.is_nil(rx:find("a\192\175"))
    assert.is_nil(core.regex("é"):find("éé", 2)) -- inside a character
  end)

  it("refuses a bad pattern with a usage error naming the offset", function()
    local ok, e = pcall(core.regex, "ab(c")
    assert.is_false(ok)
    assert.equal("usage", e.kind)
    assert.equal(4, e.offset)
    assert.matches("offset 4", e.text)
    ok, e = pcall(core.regex, "a\255")
    assert.is_false(ok)
    assert.equal("usage", e.kind)
    ok, e = pcall(core.regex, "a", "g")
    assert.is_false(ok)
    assert.equal("usage", e.kind)
  end)

  it("reads well once imapsift.error is loaded", function()
    require "imapsift.error"
    local _, e = pcall(core.regex, "(")
    assert.matches("^regex failed: %(usage%) bad pattern at offset 1",
      tostring(e))
  end)

  it("stops a catastrophic pattern with a limit error", function()
    local rx = core.regex("^(a|aa)+$")
    local ok, e = pcall(rx.match, rx, ("a"):rep(60) .. "b")
    assert.is_false(ok)
    assert.equal("limit", e.kind)
    ok, e = pcall(rx.find, rx, ("a"):rep(60) .. "b")
    assert.is_false(ok)
    assert.equal("limit", e.kind)
    assert.is_true(rx:match(("a"):rep(60))) -- still usable afterwards
  end)

  it("compiles the same pattern and flags once", function()
    assert.equal(core.regex("x+y"), core.regex("x+y"))
    assert.are_not.equal(core.regex("x+y"), core.regex("x+y", "i"))
    -- flags and pattern are kept apart in the cache
    assert.are_not.equal(core.regex("ix"), core.regex("x", "i"))
    assert.is_false(core.regex("ix"):match("X"))
    assert.equal(core.regex("n"), core.regex("n"))
    for i = 1, 200 do core.regex("p" .. i) end -- the cache stays bounded
    assert.is_true(core.regex("p1"):match("p1"))
  end)

  it("shows its pattern and checks its arguments", function()
    assert.equal("imapsift.Regex(/a+/i)", tostring(core.regex("a+", "i")))
    assert.has_error(function() core.regex(nil) end)
    assert.has_error(function() core.regex("a"):match(nil) end)
    assert.has_error(function() core.regex("a"):find("a", 5) end)
  end)
end)

describe("core.pcre2_version", function()
  it("names the PCRE2 release", function()
    assert.matches("^10%.%d+", core.pcre2_version())
  end)
end)

describe("core.iconv", function()
  it("converts MIME charsets to UTF-8", function()
    assert.equal("café", core.iconv("caf\233", "ISO-8859-1"))
    assert.equal("café", core.iconv("caf\233", "latin1"))
    assert.equal("Привет", core.iconv("\240\210\201\215\197\212", "KOI8-R"))
    assert.equal("€", core.iconv("\128", "windows-1252"))
    assert.equal("ok", core.iconv("ok", "utf8"))
    assert.equal("Привет", core.iconv("\240\210\201\215\197\212", "x-koi8-r"))
    assert.equal("", core.iconv("", "utf-8"))
  end)

  it("converts long text past its internal chunk size", function()
    local out = core.iconv(("\233"):rep(100000), "iso-8859-15")
    assert.equal(200000, #out)
    assert.equal(100000, utf8.len(out))
  end)

  it("returns nil and an error value for bad input", function()
    local s, e = core.iconv("a\255", "utf-8")
    assert.is_nil(s)
    assert.equal("protocol", e.kind)
    s, e = core.iconv("\27$B$", "ISO-2022-JP") -- half a character
    assert.is_nil(s)
    assert.equal("protocol", e.kind)
    for _, cs in ipairs{ "no-such-charset", "utf-8//IGNORE", "",
      "../../etc", ("x"):rep(100) } do
      s, e = core.iconv("a", cs)
      assert.is_nil(s)
      assert.equal("usage", e.kind)
    end
    assert.has_error(function() core.iconv("a") end)
  end)

  it("starts every call afresh on a converter it keeps", function()
    -- left shifted into JIS X 0208 by a cut input, then plain ASCII
    assert.is_nil(core.iconv("\27$B$", "ISO-2022-JP"))
    assert.equal("ab", core.iconv("ab", "ISO-2022-JP"))
    assert.equal("", core.iconv("\27$B", "ISO-2022-JP")) -- a shift alone
    assert.equal("\227\129\130", core.iconv("\27$B$\"\27(B",
      "ISO-2022-JP")) -- HIRAGANA LETTER A
    -- more charsets than are kept: each still converts, again and again
    local names = { "iso-8859-1", "iso-8859-2", "iso-8859-5", "iso-8859-7",
      "iso-8859-15", "koi8-r", "koi8-u", "windows-1250", "windows-1251",
      "windows-1252", "windows-1253", "cp850", "cp437", "mac", "utf-16le",
      "big5", "euc-jp", "gb18030", "us-ascii", "utf-8" }
    for _ = 1, 3 do
      for _, cs in ipairs(names) do
        local text = cs == "utf-16le" and "a\0" or "a"
        assert.equal("a", core.iconv(text, cs), cs)
      end
    end
    assert.equal("café", core.iconv("caf\233", "latin1"))
  end)
end)
