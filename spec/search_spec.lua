-- Specs for imapsift.search: search criteria to command arguments.
local search = require "imapsift.search"
local set = require "imapsift.set"

describe("imapsift.search", function()
  it("keeps keys as atoms and sends values as strings", function()
    local args, eight = search.encode({ "unseen", "FROM", "boss@example.org" }, set)
    assert.same({ "UNSEEN", "FROM", { qstr = "boss@example.org" } }, args)
    assert.is_false(eight)
  end)

  it("notes 8-bit values so a charset can be given", function()
    local args, eight = search.encode({ "SUBJECT", "Grüße" }, set)
    assert.same({ "SUBJECT", { qstr = "Grüße" } }, args)
    assert.is_true(eight)
  end)

  it("handles NOT, OR, HEADER, dates, numbers and groups", function()
    local args = search.encode({ "OR", "FROM", "a", { "NOT", "SEEN", "LARGER", 100 },
      "HEADER", "List-Id", "x", "SINCE", "1-Feb-2024", "BEFORE", 0 }, set)
    assert.same({ "OR", "FROM", { qstr = "a" }, { "NOT", "SEEN", "LARGER", 100 },
      "HEADER", { qstr = "List-Id" }, { qstr = "x" }, "SINCE", "1-Feb-2024",
      "BEFORE", "1-Jan-1970" }, args)
  end)

  it("compresses UID sets", function()
    assert.same({ "UID", { seqset = "1:3,9" } },
      (search.encode({ "UID", { 3, 1, 2, 9 } }, set)))
    assert.same({ { seqset = "1:*" } }, (search.encode({ "1:*" }, set)))
    assert.same({ { seqset = "7" }, "UID", { seqset = "$" } },
      (search.encode({ 7, "UID", "$" }, set)))
  end)

  it("checks keywords and object ids against their grammar", function()
    assert.same({ "KEYWORD", "$Junk", "UNKEYWORD", "NonJunk", "EMAILID",
      "M6d99ac3275bb4e" }, (search.encode({ "KEYWORD", "$Junk", "UNKEYWORD",
      "NonJunk", "EMAILID", "M6d99ac3275bb4e" }, set)))
    for _, bad in ipairs{ "a b", "\\Seen", "x)", "$J*", "", "caf\195\169" } do
      assert.has_error(function() search.encode({ "KEYWORD", bad }, set) end)
    end
    assert.has_error(function() search.encode({ "EMAILID", "a b" }, set) end)
    assert.has_error(function() search.encode({ "UID", "1:0" }, set) end)
    assert.has_error(function() search.encode({ 0 }, set) end)
  end)

  it("rejects malformed criteria with a message", function()
    assert.has_error(function() search.encode({ "FROM" }, set) end,
      "search: FROM needs a value")
    assert.has_error(function() search.encode({ "BOGUS" }, set) end,
      'search: unknown search key "BOGUS" at position 1')
    assert.has_error(function() search.encode({ "SINCE", "yesterday" }, set) end)
    assert.has_error(function() search.encode({ "LARGER", "big" }, set) end)
    assert.has_error(function() search.encode({ "KEYWORD", "a b" }, set) end)
    assert.has_error(function() search.encode({}, set) end)
  end)
end)
