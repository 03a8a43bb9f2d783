-- Specs for imapsift.set: compression, splitting and expansion of
-- message sets.
local set = require "imapsift.set"

describe("imapsift.set", function()
  it("compresses unsorted numbers with duplicates into ranges", function()
    assert.equal("1:5,7,9:12", set.compress{ 12, 3, 1, 2, 4, 5, 7, 9, 10, 11, 3 })
    assert.equal("42", set.compress{ 42 })
    assert.equal("", set.compress{})
  end)

  it("refuses values that are not message numbers", function()
    assert.has_error(function() set.compress{ 1, 0 } end)
    assert.has_error(function() set.compress{ 1, 2.5 } end)
    assert.has_error(function() set.compress{ "3" } end)
    assert.has_error(function() set.compress{ 2 ^ 40 // 1 } end)
  end)

  it("splits a large set so that each piece stays under the limit", function()
    local uids = {}
    for i = 1, 100000 do uids[i] = i * 2 end -- no ranges at all
    local pieces = set.split(uids, 8000)
    assert.is_true(#pieces > 10)
    local seen = 0
    for _, p in ipairs(pieces) do
      assert.is_true(#p <= 8000)
      assert.is_nil(p:find(",,"))
      seen = seen + #set.expand(p)
    end
    assert.equal(100000, seen)
    assert.same(uids, (function()
      local all = {}
      for _, p in ipairs(pieces) do
        for _, v in ipairs(set.expand(p)) do all[#all + 1] = v end
      end
      return all
    end)())
  end)

  it("keeps numbers and set strings as one piece", function()
    assert.same({ "7" }, set.split(7, 100))
    assert.same({ "1:*" }, set.split("1:*", 100))
    assert.has_error(function() set.split("1 OR 2", 100) end)
    assert.has_error(function() set.split(true, 100) end)
  end)

  it("counts a set string without expanding it", function()
    assert.equal(4, set.count("1:3,7"))
    assert.equal(3, set.count("9:7"))
    assert.equal(4294967295, set.count("1:4294967295"))
    for _, bad in ipairs{ "0", "1:*", "4294967296", "1,,2x", "a:b", "1:0" } do
      assert.is_nil(set.count(bad), bad)
    end
  end)

  it("expands set strings in the order given", function()
    assert.same({ 1, 2, 3, 7 }, set.expand("1:3,7"))
    assert.same({ 5, 4, 3 }, set.expand("5:3"))
    assert.has_error(function() set.expand("1:*") end)
    assert.has_error(function() set.expand("1:100", 10) end)
  end)
end)
