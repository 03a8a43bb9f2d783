-- search_pieces_spec.lua: long untagged SEARCH and SORT lines arrive in
-- pieces (c/parser.c, c/lua_response.c): { type = "SEARCH", nums = {...},
-- partial = true } for each piece but the last, so a server without
-- ESEARCH can answer with a million UIDs on one line under the default
-- limits, and max_line bounds each piece instead of the line.
local core = require "imapsift.core"

local feed_chunks = require("support.util").feed_chunks

local function search(nums, extra)
  local t = { kind = "untagged", type = "SEARCH", nums = nums }
  for k, v in pairs(extra or {}) do
    t[k] = v
  end
  return t
end

describe("a long SEARCH line", function()
  -- max_line = 32 cuts a line at a space after a number once a piece
  -- passes 16 bytes.
  local limits = { max_line = 32 }
  local wire = "* SEARCH 1 22 333 4444 55555 666666 7777777 88888888 "
    .. "999999999 1 2 3 (MODSEQ 7)\r\nA1 OK done\r\n"
  local want = {
    search({ 1, 22, 333 }, { partial = true }),
    search({ 4444, 55555, 666666 }, { partial = true }),
    search({ 7777777, 88888888 }, { partial = true }),
    search({ 999999999, 1, 2, 3 }, { modseq = 7 }),
    { kind = "tagged", tag = "A1", status = "OK", text = "done" },
  }

  it("comes in pieces, the last with the modseq", function()
    assert.same(want, core.parse(wire, limits))
  end)

  it("comes in the same pieces however the bytes are cut", function()
    for i = 1, #wire - 1 do
      assert.same(want, feed_chunks({ wire:sub(1, i), wire:sub(i + 1) },
        limits), "split at offset " .. i)
    end
    local bytes = {}
    for i = 1, #wire do
      bytes[i] = wire:sub(i, i)
    end
    assert.same(want, feed_chunks(bytes, limits), "one byte at a time")
  end)

  it("is cut for SORT too, but no other line is", function()
    assert.same({
      { kind = "untagged", type = "SORT", nums = { 1, 22, 333, 4444 },
        partial = true },
      { kind = "untagged", type = "SORT", nums = { 5 } },
    }, core.parse("* SORT 1 22 333 4444 5\r\n", limits))
    local got, err = core.parse("* X 1 22 333 4444 55555 666666 7777777 "
      .. "88888888\r\n", limits)
    assert.is_nil(got)
    assert.equal("limit", err.kind)
  end)

  it("ends at a fault, marked, and the stream goes on", function()
    assert.same({
      search({ 1, 22, 333 }, { partial = true }),
      { kind = "untagged", type = "SEARCH",
        malformed = "')' without '(' at offset 6" },
      { kind = "untagged", type = "EXISTS", n = 3 },
    }, core.parse("* SEARCH 1 22 333 4444 x)\r\n* 3 EXISTS\r\n", limits))
  end)

  it("of a million UIDs works with the default limits", function()
    local n, parts = 1000000, { "* SEARCH" }
    for i = 1, n do
      parts[#parts + 1] = tostring(i * 7 + 3)
    end
    local line = table.concat(parts, " ") .. " (MODSEQ 424242)\r\n"
    assert.is_true(#line > 1024 * 1024 * 7)
    local p = core.parser()
    local count, sum, pieces, last = 0, 0, 0, nil
    local pos, step = 1, 1
    while pos <= #line do
      step = step * 7 % 65521 + 1 -- chunks of assorted sizes
      for _, r in ipairs(p:feed(line:sub(pos, pos + step - 1))) do
        assert.is_nil(last, "a piece after the last one")
        assert.equal("SEARCH", r.type)
        assert.is_nil(r.malformed)
        count, pieces = count + #r.nums, pieces + 1
        for _, v in ipairs(r.nums) do
          sum = sum + v
        end
        if not r.partial then last = r end
      end
      pos = pos + step
    end
    assert.is_false(p:busy())
    assert.equal(n, count)
    assert.equal(7 * n * (n + 1) // 2 + 3 * n, sum)
    assert.equal(424242, last.modseq)
    assert.is_true(pieces > 100)
  end)
end)
