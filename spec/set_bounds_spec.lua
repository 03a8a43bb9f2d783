-- Specs for the bounds of imapsift.set.expand on set strings a server
-- sends (COPYUID, APPENDUID, ESEARCH), found by fuzzing (c/fuzz/
-- fuzz_set.lua): only 32-bit non-zero message numbers expand, so the
-- cap's arithmetic cannot overflow into an endless expansion; and the
-- cap counts every number, single ones too.
local set = require "imapsift.set"

-- Runs f under an instruction budget: a runaway loop fails the spec
-- instead of hanging it (no clock involved).
local function bounded(f, ...)
  debug.sethook(function() error("ran away: no result within budget") end,
    "", 50000000)
  local ok, err = pcall(f, ...)
  debug.sethook()
  return ok, err
end

describe("imapsift.set.expand bounds", function()
  it("refuses 0, which is not a message number", function()
    for _, s in ipairs{ "0", "0:5", "3,0", "5:0" } do
      local ok, err = pcall(set.expand, s)
      assert.is_false(ok, s)
      assert.matches("cannot expand message set", tostring(err), 1, true)
    end
  end)

  it("refuses numbers beyond 32 bits", function()
    for _, s in ipairs{ "4294967296", "1:4294967296",
        "99999999999999999999", "18446744073709551616:18446744073709551616" } do
      local ok, err = pcall(set.expand, s)
      assert.is_false(ok, s)
      assert.matches("cannot expand message set", tostring(err), 1, true)
    end
  end)

  it("refuses a range whose size overflows the cap's arithmetic", function()
    for _, s in ipairs{ "0:9223372036854775807", "9223372036854775807:0",
        "2,1:9223372036854775807" } do
      local ok, err = bounded(set.expand, s)
      assert.is_false(ok, s)
      assert.matches("cannot expand message set", tostring(err), 1, true)
    end
  end)

  it("counts single numbers against the cap, not only ranges", function()
    for _, s in ipairs{ "1,2,3", "1:2,3", "3,1:2", "7,7,7" } do
      local ok, err = pcall(set.expand, s, 2)
      assert.is_false(ok, s)
      assert.matches("too large", tostring(err), 1, true)
    end
    assert.same({ 1, 2 }, set.expand("1,2", 2))
  end)

  it("still expands the largest message numbers", function()
    assert.same({ 4294967294, 4294967295 }, set.expand("4294967294:4294967295"))
    assert.same({ 4294967295, 1 }, set.expand("4294967295,1"))
  end)
end)
