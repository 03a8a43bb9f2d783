-- Specs for imapsift.headers: RFC 2047 decoding in many charsets,
-- header blocks, RFC 5322 address lists and dates.
local headers = require "imapsift.headers"

describe("imapsift.headers.decode", function()
  local cases = {
    { "UTF-8 Q", "=?utf-8?q?Caf=C3=A9_cr=C3=A8me?=", "Café crème" },
    { "UTF-8 B", "=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße" },
    { "ISO-8859-1", "=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße" },
    { "ISO-8859-15", "=?ISO-8859-15?B?pHVybw==?=", "€uro" },
    { "windows-1252", "=?windows-1252?B?k3F1b3RlZJQgliBkYXNo?=",
      "“quoted” – dash" },
    { "KOI8-R", "=?koi8-r?b?8NLJ18XU?=", "Привет" },
    { "ISO-2022-JP", "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=",
      "こんにちは" },
    { "GB2312", "=?gb2312?B?xOO6w8rAvec=?=", "你好世界" },
    { "GBK", "=?GBK?B?6UY=?=", "镕" },
    { "GBK characters labelled GB2312", "=?gb2312?B?6UY=?=", "镕" },
    { "Shift_JIS", "=?Shift_JIS?B?k/qWe4zq?=", "日本語" },
    { "CP932 characters labelled Shift_JIS", "=?shift_jis?B?h0A=?=", "①" },
    { "a charset name in any case, with an RFC 2231 language",
      "=?Iso-8859-1*fr?Q?=E9t=E9?=", "été" },
    { "an x- prefix iconv does not know", "=?x-koi8-r?b?8NLJ18XU?=",
      "Привет" },
    { "B without its padding", "=?utf-8?b?w6k?=", "é" },
  }
  for _, c in ipairs(cases) do
    it("decodes " .. c[1], function()
      assert.equal(c[3], headers.decode(c[2]))
    end)
  end

  it("drops white space between adjacent words only", function()
    assert.equal("Re: ab c",
      headers.decode("Re: =?utf-8?q?a?=  \t =?utf-8?q?b?= c"))
    assert.equal("a - b", headers.decode("=?utf-8?q?a?= - =?utf-8?q?b?="))
  end)

  it("joins a character split across two words", function()
    -- U+00E9 is C3 A9; each word alone is not UTF-8
    assert.equal("é", headers.decode("=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?="))
  end)

  it("decodes adjacent words in different charsets", function()
    assert.equal("éПривет", headers.decode(
      "=?iso-8859-1?q?=E9?= =?koi8-r?b?8NLJ18XU?="))
  end)

  it("keeps malformed words as sent", function()
    for _, w in ipairs{
      "=?utf-8?b?!!!?=",                -- bad base64
      "=?utf-8?b?w?=",                  -- base64 one char short of a byte
      "=?x-no-such-charset?q?abc?=",    -- unknown charset
      "=?utf-8?q?=FF?=",                -- invalid bytes in the charset
      "=?utf-8?q?=C3?=",                -- truncated character
      "=?utf-8?q?a=ZZ?=",               -- bad Q escape
      "=?utf-8?q?a=4?=",                -- Q escape cut short
      "=?utf-8//IGNORE?q?a?=",          -- no iconv suffixes smuggled in
    } do
      assert.equal(w, headers.decode(w))
    end
    assert.equal("=?utf-8?q?abc", headers.decode("=?utf-8?q?abc")) -- no ?=
    assert.equal("x =?utf-8?q?=FF?= y é",
      headers.decode("x =?utf-8?q?=FF?= y =?utf-8?q?=C3=A9?="))
  end)

  it("always returns valid UTF-8, reading stray bytes as windows-1252",
  function()
    assert.equal("café “hi” \u{FFFD}", headers.decode("caf\233 \147hi\148 \129"))
    assert.equal("déjà vu", headers.decode("déjà vu"))
    assert.equal("é ok é", headers.decode("\233 ok =?utf-8?q?=C3=A9?="))
    assert.equal("\u{FFFD}", headers.decode("\129"))
    -- an overlong encoding and a surrogate are not UTF-8 either
    assert.truthy(utf8.len(headers.decode("\192\175 \237\160\128")))
  end)

  it("leaves plain text and non-strings alone", function()
    assert.equal("plain", headers.decode("plain"))
    assert.equal("", headers.decode(""))
    assert.is_nil(headers.decode(nil))
  end)
end)

describe("imapsift.headers.parse", function()
  it("unfolds, lowercases names and keeps every value in order", function()
    local h = headers.parse("Subject: hello\r\n  world\r\nX-Tag: 1\r\n" ..
      "x-tag:2\r\nReceived: a\r\n\tb\r\n\r\nBody: not a header\r\n")
    assert.same({ "hello  world" }, h.subject)
    assert.same({ "1", "2" }, h["x-tag"])
    assert.same({ "a\tb" }, h.received)
    assert.is_nil(h.body)
  end)

  it("takes LF line ends, obsolete space before the colon, junk lines",
  function()
    local h = headers.parse("From : a@b\nnot a header\nTo: c@d\n")
    assert.same({ "a@b" }, h.from)
    assert.same({ "c@d" }, h.to)
    assert.same({}, headers.parse(""))
    assert.same({}, headers.parse("\r\nSubject: body\r\n"))
  end)

  it("trims values at both ends, keeping what is inside", function()
    local h = headers.parse("A: \t x \r y \t\r\r\nB:\t \r\r\nC:z\r\n" ..
      "D: folded \r\n\t\r\n e \r\nE:\r\n\r\n")
    assert.same({ "x \r y" }, h.a)
    assert.same({ "" }, h.b)
    assert.same({ "z" }, h.c)
    assert.same({ "folded \t e" }, h.d)
    assert.same({ "" }, h.e)
    assert.same({ "v" }, headers.parse("Bare-Cr: v\r")["bare-cr"])
  end)

  it("reads a block of one field as it reads a longer one", function()
    for _, v in ipairs{ "v", "v  \t", "", "  ", "a \r b", "=?utf-8?q?x?=" } do
      for _, tail in ipairs{ "\r\n\r\n", "\r\n\r\nBody: x\r\n",
          "\n\n", "\r\n", "" } do
        local one = headers.parse("From : " .. v .. tail)
        local two = headers.parse("X: 1\r\nFrom : " .. v .. tail)
        assert.same(two.from, one.from)
        assert.same({ "1" }, two.x)
        assert.is_nil(one.body or two.body)
      end
    end
    assert.same({ "v" }, headers.parse("From: v \r\n\r\n").from)
    assert.same({ "a \r b" }, headers.parse("From: a \r b\r\n\r\n").from)
  end)

  it("lowercases any number of distinct names", function()
    local parts = {}
    for i = 1, 600 do parts[i] = ("X-Name-%d: %d"):format(i, i) end
    local h = headers.parse(table.concat(parts, "\r\n"))
    for i = 1, 600 do assert.same({ tostring(i) }, h["x-name-" .. i]) end
  end)

  it("refuses a non-string", function()
    assert.has_error(function() headers.parse(nil) end)
  end)
end)

describe("imapsift.headers.addresses", function()
  local function pairs_of(s)
    local out = {}
    for _, a in ipairs(headers.addresses(s)) do
      out[#out + 1] = { a.name or false, a.address }
    end
    return out
  end

  it("reads display names, angle addresses and bare addresses", function()
    assert.same({
      { "Doe, John", "john@example.com" },
      { "Mary Smith", "mary@x.org" },
      { false, "bare@y.z" },
    }, pairs_of('"Doe, John" <john@example.com>, Mary Smith <mary@x.org>,' ..
      " bare@y.z"))
  end)

  it("drops comments, nested ones and ones holding specials", function()
    assert.same({
      { "Pete", "pete@silly.test" },
      { false, "c@d.e" },
    }, pairs_of("Pete(A nice \\) chap) <pete(his account)@silly.test" ..
      "(his host)>, c@d.e (Bare (nested, with <angle>) Name)"))
  end)

  it("decodes encoded display names, quoted or not", function()
    assert.same({
      { "Jörg Müller", "j@d.e" },
      { "Привет", "p@r.u" },
    }, pairs_of("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?= <j@d.e>, " ..
      '"=?koi8-r?b?8NLJ18XU?=" <p@r.u>'))
  end)

  it("flattens groups and skips empty ones", function()
    assert.same({
      { false, "a@b.c" },
      { "Ed", "ed@x.y" },
      { false, "z@z.z" },
    }, pairs_of("friends: a@b.c, Ed <ed@x.y>;, undisclosed-recipients:;," ..
      " z@z.z"))
  end)

  it("keeps quoted local parts and drops obsolete routes", function()
    assert.same({
      { false, '"john doe"@ex.com' },
      { "John Q. Public", "jqp@ex.com" },
      { false, "x@[192.0.2.1]" },
    }, pairs_of('"john doe"@ex.com, John Q. Public <@r1,@r2:jqp@ex.com>,' ..
      " <x@[192.0.2.1]>"))
  end)

  it("survives unterminated quotes, comments and brackets", function()
    assert.equal("table", type(headers.addresses('"unterminated <a@b>')))
    assert.same({ { false, "a@b" } }, pairs_of("<a@b"))
    assert.same({ { false, "a@b" } }, pairs_of("a@b (open comment"))
    assert.same({}, pairs_of(""))
    assert.same({}, pairs_of(",,"))
    assert.same({}, headers.addresses(nil))
  end)
end)

describe("imapsift.headers.addresses, common shapes read whole", function()
  local function shape(list)
    local out = {}
    for i, a in ipairs(list) do out[i] = { a.name or false, a.address } end
    return out
  end

  -- Every entry here is read by one pattern or sent to the token reader;
  -- either way addresses() must answer as token_addresses() does.
  local TRICKY = {
    '"Doe, John" <john@example.com>, Mary Smith <mary@x.org>, bare@y.z',
    '"a, b" <a@b.c>,"c; d" <c@d.e>',
    'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
    "a@b.c (Bare (nested, with <angle>) Name), d@e.f",
    "friends: a@b.c, Ed <ed@x.y>;, undisclosed-recipients:;, z@z.z",
    '"john doe"@ex.com, John Q. Public <@r1,@r2:jqp@ex.com>',
    "<x@[192.0.2.1]>, a..b@c.d, .a@b.c, x@y@z, a@b <c@d.e>",
    '"a\\"b" <q@r.s>, "" <e@f.g>, <solo@x.y>, "a@b" <c@d.e>',
    "=?utf-8?q?J=C3=B6rg?=\r\n =?utf-8?q?_M=C3=BCller?= <j@d.e>",
    "=?UTF-8?B?Sm9zw6kg?=\r\n =?UTF-8?B?TcO8bGxlcg==?= <jose@m.x>",
    "=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?= <split@char.x>",
    '"=?koi8-r?b?8NLJ18XU?=" <p@r.u>',
    "=?utf-8?q?=FF?= <m@x.y>, =?utf-8?b?!!!?= <n@x.y>, =?utf-8?q?abc <o@x.y>",
    "caf\233 <c@f.e>, \"caf\233\" <d@f.e>, J\195\182rg <j@x.y>",
    '"Name"\r\n <n@m.o>,\r\n\tOther  Name\t<o@m.o> ,',
    '"un <a@b>', "<a@b", "a@b (open", "x@y;", "; x@y", ":", "<>", "",
    " ", ",,", "a@b,,c@d", "a@b c", 'Mixed "q" <m@n.o>', "A.B <ab@c.d>",
  }

  it("agrees with the token reader on tricky lists", function()
    for _, s in ipairs(TRICKY) do
      assert.same(shape(headers.token_addresses(s)),
        shape(headers.addresses(s)), s)
    end
  end)

  it("agrees with the token reader on lists made of tricky entries",
  function()
    local n = 0
    for _, a in ipairs(TRICKY) do
      for _, b in ipairs(TRICKY) do
        for _, sep in ipairs{ ", ", "", ",\r\n " } do
          local s = a .. sep .. b
          assert.same(shape(headers.token_addresses(s)),
            shape(headers.addresses(s)), s)
          n = n + 1
        end
      end
    end
    assert.equal(#TRICKY * #TRICKY * 3, n)
  end)

  it("reads the common shapes", function()
    assert.same({
      { "Doe, John", "john@example.com" },
      { "José Müller", "jose@m.x" },
      { "Other Name", "o@m.o" },
      { false, "bare@y.z" },
      { false, "solo@x.y" },
    }, shape(headers.addresses('"Doe, John" <john@example.com>, ' ..
      "=?UTF-8?B?Sm9zw6kg?= =?UTF-8?B?TcO8bGxlcg==?= <jose@m.x>,\r\n" ..
      "\tOther  Name\t<o@m.o> , bare@y.z,<solo@x.y>, ")))
    assert.same({ { "=?utf-8?q?=FF?=", "m@x.y" } },
      shape(headers.addresses("=?utf-8?q?=FF?= <m@x.y>")))
  end)

  it("reads the common shapes without the token reader", function()
    local reader = headers.token_addresses
    headers.token_addresses = function(s) error("token reader for " .. s) end
    local ok, err = pcall(headers.addresses,
      '"Doe, John" <john@example.com>, Mary Smith <mary@x.org>,' ..
      " bare@y.z, <solo@x.y>, =?utf-8?q?J=C3=B6rg?= <j@d.e>, ")
    headers.token_addresses = reader
    assert.is_true(ok, err)
    assert.has_error(function()
      headers.token_addresses = function() error("token reader") end
      local done, e = pcall(headers.addresses, "a@b (comment)")
      headers.token_addresses = reader
      if not done then error(e) end
    end)
  end)

  it("reads a vertical tab or form feed as part of a word", function()
    -- these once ended an atom before it began, and the scan never moved
    assert.same({ { false, "a\vb@c" } }, shape(headers.addresses("a\vb@c")))
    assert.same({ { "A\fB", "x@y.z" } },
      shape(headers.addresses("A\fB <x@y.z>")))
  end)
end)

describe("imapsift.headers.decode, charsets read without iconv", function()
  local core = require "imapsift.core"

  -- What decoding the Q word of bytes gives when iconv converts it.
  local function by_iconv(bytes, charset, word)
    local text = core.iconv(bytes, charset)
    if text and utf8.len(text) then return text end
    return headers.make_utf8(word)
  end

  local function q_word(bytes, charset)
    return ("=?%s?Q?%s?="):format(charset, bytes:gsub(".", function(c)
      return ("=%02X"):format(c:byte())
    end))
  end

  it("gives what iconv gives for every ISO-8859-1 and US-ASCII byte",
  function()
    for b = 0, 255 do
      for _, cs in ipairs{ "iso-8859-1", "ISO-8859-1", "us-ascii" } do
        local w = q_word(string.char(b), cs)
        assert.equal(by_iconv(string.char(b), cs, w), headers.decode(w), w)
      end
    end
  end)

  it("gives what iconv gives for UTF-8, valid or not", function()
    for _, bytes in ipairs{
      "plain", "caf\195\169", "\239\187\191bom", "nul\0byte",
      "\244\143\191\191",                 -- U+10FFFF, the last one
      "\239\191\190\239\191\191",         -- noncharacters U+FFFE/F
      "\244\144\128\128",                 -- above U+10FFFF
      "\237\160\128", "\237\191\191",     -- surrogates
      "\192\175", "\224\128\175",          -- overlongs
      "\195", "a\226\130", "\128", "\255", -- truncated, stray
    } do
      for _, cs in ipairs{ "utf-8", "UTF-8" } do
        local w = q_word(bytes, cs)
        assert.equal(by_iconv(bytes, cs, w), headers.decode(w), w)
      end
    end
  end)

  it("reads Q escapes in either case and refuses broken ones", function()
    assert.equal("é é é", headers.decode(
      "=?utf-8?q?=C3=A9_=c3=a9_=c3=A9?="))
    assert.equal("a_b c", headers.decode("=?us-ascii?q?a=5Fb_c?="))
    for _, w in ipairs{ "=?utf-8?q?=?=", "=?utf-8?q?=G1?=",
        "=?utf-8?q?a=4?=", "=?utf-8?q?=4=41?=", "=?utf-8?q?==41?=" } do
      assert.equal(w, headers.decode(w))
    end
  end)
end)

describe("imapsift.headers.decode, values with no encoded word", function()
  it("gives what the full decoder gives", function()
    for _, s in ipairs{ "plain", "", "a = b ? c", "caf\233 \147hi\148",
        "déjà vu", "?= =?", "\129" } do
      assert.equal(headers.make_utf8(s), headers.decode(s))
      assert.equal(headers.decode(s .. " =?utf-8?q?x?="),
        headers.decode(s) .. " x")
    end
  end)
end)

describe("imapsift.headers.date", function()
  local at = 1796527901 -- 2026-12-06 03:31:41 UTC
  local cases = {
    { "Sun, 6 Dec 2026 03:31:41 +0000", at },
    { "Sun, 06 Dec 2026 04:31:41 +0100 (CET)", at },
    { "6 Dec 2026 03:31:41 GMT", at },                -- no weekday
    { "Sun, 6 Dec 2026 03:31 +0000", at - 41 },       -- no seconds
    { "Sat, 5 Dec 2026 22:31:41 EST", at },
    { "Sat, 5 Dec 2026 23:31:41 EDT", at },
    { "Sat, 5 Dec 2026 19:31:41 PST", at },
    { "Sun, 6 Dec 2026 03:31:41 UT", at },
    { "Sun, 6 Dec 2026 03:31:41 Z", at },
    { "Sun, 6 Dec 2026 03:31:41 A", at },             -- military: -0000
    { "Sun, 6 Dec 2026 03:31:41", at },               -- no zone: UTC
    { "Sun, 6 Dec 26 03:31:41 +0000", at },           -- two-digit year
    { "Sun, 6 Dec 126 03:31:41 +0000", at },          -- three-digit year
    { "Sunday, 06-Dec-26 03:31:41 GMT", at },
    { "Sun Dec  6 03:31:41 2026", at },               -- asctime
    { "Sun ,  6  Dec  2026  03:31:41  -0130", at + 5400 },
    { "1 Jan 1970 00:00:00 +0000", 0 },
    { "29 Feb 2024 12:00:00 +0000", 1709208000 },
    { "1 Jan 1999 00:00:00 +0000", 915148800 },
    { "1 Jan 1969 00:00:00 +0000", -31536000 },
  }
  for _, c in ipairs(cases) do
    it("reads " .. c[1], function()
      assert.equal(c[2], headers.date(c[1]))
    end)
  end

  it("refuses what is not a date", function()
    for _, s in ipairs{
      "", "garbage", "31 Feb 2026 00:00 +0000", "29 Feb 2023 00:00 +0000",
      "6 Foo 2026 03:31:41 +0000", "6 Dec 2026 24:00:00 +0000",
      "6 Dec 2026 03:61:00 +0000", "6 Dec 2026 03:31:41 +0popo",
      "6 Dec 2026 03:31:41 +0160", "6 Dec 2026 03:31:41 XYZ",
    } do
      assert.is_nil(headers.date(s), s)
    end
    assert.is_nil(headers.date(nil))
  end)
end)
