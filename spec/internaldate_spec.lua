-- Specs for imapsift.internaldate: IMAP date-time (RFC 3501 / RFC 9051)
-- to and from epoch seconds, imaplib's Internaldate2tuple and
-- Time2Internaldate. Expected epochs were computed with GNU date
-- (date -u -d "1996-07-17 09:44:25" +%s), not with this module.
local imapsift = require "imapsift"
local internaldate = require "imapsift.internaldate"

local parse, format = internaldate.parse, internaldate.format

-- date-time text, epoch seconds, offset in minutes
local VECTORS = {
  { "17-Jul-1996 02:44:25 -0700", 837596665, -420 },
  { "01-Jan-1970 00:00:00 +0000", 0, 0 },
  { "31-Dec-1969 23:59:59 +0000", -1, 0 },
  { "01-Jan-2000 00:00:00 +0500", 946666800, 300 },
  { "29-Feb-2024 23:59:59 +1400", 1709200799, 840 },
  { "19-Jan-2038 03:14:08 +0000", 2147483648, 0 },
  { "15-Mar-2023 12:00:00 +0545", 1678860900, 345 },
  { "01-Mar-1900 00:00:00 -0330", -2203878600, -210 },
  { "01-Jan-1601 00:00:00 +0000", -11644473600, 0 },
  { "01-Jan-0001 00:00:00 +0000", -62135596800, 0 },
  { "31-Dec-9999 23:59:59 +0000", 253402300799, 0 },
}

-- Runs a Lua chunk in a child lua5.4 with TZ set, using this process's
-- module paths; returns its output.
local function in_zone(tz, chunk)
  local prelude = ("package.path = %q; package.cpath = %q; "):format(
    package.path, package.cpath)
  local cmd = ("TZ=%s lua5.4 -e %s 2>&1"):format(tz,
    "'" .. (prelude .. chunk):gsub("'", "'\\''") .. "'")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "child failed: " .. out)
  return out
end

describe("internaldate.parse", function()
  it("reads known dates with their offsets", function()
    for _, v in ipairs(VECTORS) do
      local t, off = parse(v[1])
      assert.equal(v[2], t, v[1])
      assert.equal(v[3], off, v[1])
      assert.equal("integer", math.type(t))
    end
  end)

  it("accepts the date in double quotes", function()
    assert.same({ 837596665, -420 },
      { parse('"17-Jul-1996 02:44:25 -0700"') })
  end)

  it("accepts a whole INTERNALDATE item and a FETCH fragment", function()
    assert.same({ 837596665, -420 },
      { parse('INTERNALDATE "17-Jul-1996 02:44:25 -0700"') })
    assert.same({ 946666800, 300 }, { parse(
      '* 25 FETCH (UID 4 INTERNALDATE "01-Jan-2000 00:00:00 +0500" ' ..
      'RFC822.SIZE 33)') })
    assert.same({ 946666800, 300 },
      { parse('internaldate "01-Jan-2000 00:00:00 +0500"') })
  end)

  it("accepts a space-padded day (date-day-fixed) in every form", function()
    local want = { 836732665, -420 } -- 7 Jul 1996 09:44:25 UTC
    assert.same(want, { parse(" 7-Jul-1996 02:44:25 -0700") })
    assert.same(want, { parse('" 7-Jul-1996 02:44:25 -0700"') })
    assert.same(want, { parse('INTERNALDATE " 7-Jul-1996 02:44:25 -0700"') })
    assert.same(want, { parse("07-Jul-1996 02:44:25 -0700") })
  end)

  it("ignores the case of the month and surrounding white space", function()
    assert.equal(837596665, parse("17-JUL-1996 02:44:25 -0700"))
    assert.equal(837596665, parse("17-jul-1996 02:44:25 -0700\r\n"))
  end)

  it("counts a leap second as the next second", function()
    assert.equal(1435708800, parse("30-Jun-2015 23:59:60 +0000"))
  end)

  it("knows which years are leap years", function()
    assert.equal(951782400, parse("29-Feb-2000 00:00:00 +0000"))
    assert.is_nil(parse("29-Feb-1900 00:00:00 +0000"))
    assert.is_nil(parse("29-Feb-2023 00:00:00 +0000"))
    assert.is_nil(parse("31-Apr-2024 00:00:00 +0000"))
  end)

  it("returns nil and a message for invalid input, never raising", function()
    local cases = {
      { "17-Foo-1996 02:44:25 -0700", "bad month" },
      { "32-Jul-1996 02:44:25 -0700", "bad day" },
      { "00-Jul-1996 02:44:25 -0700", "bad day" },
      { "17-Jul-1996 25:44:25 -0700", "bad hour" },
      { "17-Jul-1996 24:00:00 -0700", "bad hour" },
      { "17-Jul-1996 02:60:25 -0700", "bad minute" },
      { "17-Jul-1996 02:44:61 -0700", "bad second" },
      { "17-Jul-1996 02:44:25 +2500", "bad zone" },
      { "17-Jul-1996 02:44:25 +0760", "bad zone" },
      { "17-Jul-1996 02:44:25", "not an IMAP date-time" },
      { "17-Jul-1996 02:44:25 PDT", "not an IMAP date-time" },
      { "17-Jul-96 02:44:25 -0700", "not an IMAP date-time" },
      { "17 Jul 1996 02:44:25 -0700", "not an IMAP date-time" },
      { "117-Jul-1996 02:44:25 -0700", "not an IMAP date-time" },
      { "17-Jul-1996 2:44:25 -0700", "not an IMAP date-time" },
      { "garbage", "not an IMAP date-time" },
      { "", "not an IMAP date-time" },
      { '"17-Jul-1996 02:44:25 -0700', "unbalanced quotes" },
      { "INTERNALDATE 17-Jul-1996 02:44:25 -0700", "no quoted date-time" },
      { '* 1 FETCH (INTERNALDATE "17-Jul-1996")', "not an IMAP date-time" },
    }
    for _, c in ipairs(cases) do
      local t, err = parse(c[1])
      assert.is_nil(t, c[1])
      assert.is_string(err)
      assert.truthy(err:find(c[2], 1, true), c[1] .. " -> " .. err)
    end
    local t, err = parse(42)
    assert.is_nil(t)
    assert.matches("must be a string", err)
  end)

  it("escapes and shortens hostile input in its messages", function()
    local _, err = parse("\27[2J" .. ("x"):rep(200))
    assert.is_nil(err:find("\27", 1, true))
    assert.truthy(err:find("\\x1b[2J", 1, true))
    assert.is_true(#err < 150)
  end)
end)

describe("internaldate.format", function()
  it("writes epoch seconds as UTC by default", function()
    for _, v in ipairs(VECTORS) do
      local want = v[3] == 0 and v[1] or nil
      if want then assert.equal(want, format(v[2])) end
    end
    assert.equal("17-Jul-1996 09:44:25 +0000", format(837596665))
  end)

  it("writes the time at the offset given", function()
    for _, v in ipairs(VECTORS) do
      assert.equal(v[1], format(v[2], v[3]))
    end
    assert.equal("16-Jul-1996 23:14:25 -1030", format(837596665, -630))
  end)

  it("zero-pads the day, as imaplib does", function()
    assert.equal("07-Jul-1996 09:44:25 +0000", format(836732665))
  end)

  it("accepts a float with an integral value and floors others", function()
    assert.equal(format(837596665), format(837596665.0))
    assert.equal(format(837596665), format(837596665.75))
    assert.equal(format(-1), format(-0.5))
  end)

  it("round-trips with parse over a range of times and offsets", function()
    local offsets = { -720, -630, -420, -210, -1, 0, 1, 60, 330, 345, 840,
      1439, -1439 }
    local n = 0
    for t = -62135596800, 253402300799 - 86400, 77777791 do
      for _, off in ipairs(offsets) do
        local s = format(t, off)
        local back, off2 = parse(s)
        assert.equal(t, back, s)
        assert.equal(off, off2, s)
        n = n + 1
      end
    end
    assert.is_true(n > 50000)
  end)

  it("agrees with os.date for UTC over a range of times", function()
    for t = -(1 << 33), 1 << 34, 7000021 do
      assert.equal(os.date("!%d-%b-%Y %H:%M:%S +0000", t), format(t))
    end
  end)

  it("handles the last second of months and leap days", function()
    local ends = { "31-Jan-2024 23:59:59", "29-Feb-2024 23:59:59",
      "28-Feb-2023 23:59:59", "30-Apr-2024 23:59:59", "31-Dec-1999 23:59:59",
      "29-Feb-2000 23:59:59", "28-Feb-2100 23:59:59" }
    for _, e in ipairs(ends) do
      local t = parse(e .. " +0000")
      assert.equal(e .. " +0000", format(t))
      local next_day = format(t + 1)
      assert.equal("01-", next_day:sub(1, 3), e)
    end
  end)

  it("passes parse's results straight back in", function()
    assert.equal("17-Jul-1996 02:44:25 -0700",
      format(parse('"17-Jul-1996 02:44:25 -0700"')))
    assert.equal("07-Jul-1996 02:44:25 -0700",
      format(parse(' 7-Jul-1996 02:44:25 -0700')))
  end)

  it("reads a table as local time, shown at the local offset", function()
    local t = os.time()
    local here = os.date("*t", t)
    local s = format(here)
    assert.equal(t, parse(s))
    assert.equal(internaldate.local_offset(t), select(2, parse(s)))
    assert.equal(format(t, 0), format(here, 0))
  end)

  it("raises for bad arguments", function()
    local bad = {
      { { "x" }, "epoch seconds or a date table" },
      { { 0 / 0 }, "out of range" },
      { { math.huge }, "out of range" },
      { { 1e300 }, "out of range" },
      { { math.maxinteger }, "out of range" },
      { { math.mininteger }, "out of range" },
      { { 0, 1.5 }, "whole minutes" },
      { { 0, 1440 }, "whole minutes" },
      { { 0, -1440 }, "whole minutes" },
      { { 0, "60" }, "whole minutes" },
      { { 253402300800 }, "year 10000" },
      { { -62135596800 - 86400 * 366 - 1 }, "has no 4-digit form" },
      { { { year = 2024 } }, "not a date table" },
    }
    for _, c in ipairs(bad) do
      local ok, err = pcall(format, table.unpack(c[1]))
      assert.is_false(ok)
      assert.matches("bad argument #%d to 'format'", err)
      assert.truthy(tostring(err):find(c[2], 1, true), err)
    end
  end)
end)

describe("internaldate and the machine's time zone", function()
  local chunk = [[
    local d = require "imapsift.internaldate"
    io.write(d.parse("17-Jul-1996 02:44:25 -0700"), " ",
      d.parse("29-Feb-2024 23:59:59 +1400"), "|",
      d.format(837596665), "|", d.format(837596665, -420), "|",
      d.format(os.date("*t", 837596665)), "|", d.local_offset(837596665))
  ]]

  it("gives the same epochs and strings under any TZ", function()
    local want = "837596665 1709200799|17-Jul-1996 09:44:25 +0000|" ..
      "17-Jul-1996 02:44:25 -0700|"
    local tokyo = in_zone("Asia/Tokyo", chunk)
    local ny = in_zone("America/New_York", chunk)
    local utc = in_zone("UTC", chunk)
    assert.equal(want .. "17-Jul-1996 18:44:25 +0900|540", tokyo)
    -- 17 July 1996: New York was on daylight saving time
    assert.equal(want .. "17-Jul-1996 05:44:25 -0400|-240", ny)
    assert.equal(want .. "17-Jul-1996 09:44:25 +0000|0", utc)
  end)

  it("matches this process, whatever its zone", function()
    local here = table.concat({ parse("17-Jul-1996 02:44:25 -0700") }, "")
    assert.equal("837596665-420", here)
    local out = in_zone("Asia/Kolkata", [[
      local d = require "imapsift.internaldate"
      io.write(d.parse("17-Jul-1996 02:44:25 -0700"), d.local_offset(0))]])
    assert.equal("837596665330", out)
  end)
end)

describe("imapsift.internaldate", function()
  it("is the module reached from imapsift", function()
    assert.equal(internaldate, imapsift.internaldate)
  end)

  it("gives APPEND a date-time that goes out quoted", function()
    local fake = require "support.fake"
    local msg = "Subject: hi\r\n\r\nhello\r\n"
    local srv = fake.new{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n" },
      { recv = "^A1 APPEND" }, { reply = "OK done" } }
    local imap = imapsift.connect(srv:options())
    imap:append("INBOX", msg, { flags = { "\\Seen" },
      date = format(836732665, -420) })
    imap:shutdown()
    assert.equal('A1 APPEND INBOX (\\Seen) "07-Jul-1996 02:44:25 -0700" {' ..
      #msg .. "}\r\n" .. msg .. "\r\n", srv:log())
    assert.equal("done", srv:status())
    srv:cleanup()
  end)
end)
