-- mutf7_spec.lua: modified UTF-7 mailbox names from Lua (c/mutf7.c via
-- core.mutf7_encode and core.mutf7_decode).
local core = require "imapsift.core"

local vectors = {
  { "", "" },
  { "INBOX", "INBOX" },
  { "Entwürfe", "Entw&APw-rfe" },
  { "日本語", "&ZeVnLIqe-" },
  { "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
  { "A&B", "A&-B" },
  { "&&", "&-&-" },
  { "\240\159\152\128", "&2D3eAA-" }, -- U+1F600 via D83D DE00
  { "é", "&AOk-" },
  { "éé", "&AOkA6Q-" },
  { "ééé", "&AOkA6QDp-" },
  { "ü&", "&APw-&-" },
  { "a\tb", "a&AAk-b" },
}

describe("core.mutf7_encode / core.mutf7_decode", function()
  for _, v in ipairs(vectors) do
    it(("maps %q <-> %q"):format(v[1], v[2]), function()
      assert.are.equal(v[2], core.mutf7_encode(v[1]))
      assert.are.equal(v[1], core.mutf7_decode(v[2]))
    end)
  end

  it("round-trips a sample of code points", function()
    for cp = 0x80, 0x10FFFF, 997 do
      if cp < 0xD800 or cp > 0xDFFF then
        local s = "x" .. utf8.char(cp) .. "y" .. utf8.char(cp)
        local m = assert(core.mutf7_encode(s))
        assert.is_nil(m:find("[^\32-\126]"))
        assert.are.equal(s, core.mutf7_decode(m))
      end
    end
  end)

  it("returns nil and a message for invalid UTF-8", function()
    for _, bad in ipairs({ "\128", "a\195", "\192\175", "\224\128\175",
                           "\237\160\128", "\244\144\128\128", "a\0b" }) do
      local r, err = core.mutf7_encode(bad)
      assert.is_nil(r)
      assert.matches("UTF%-8", err)
    end
  end)

  it("returns nil and a message for invalid modified UTF-7", function()
    for _, bad in ipairs({
      "&ZeVnLIqe", -- unterminated
      "&Ze*-",     -- bad base64 digit
      "&/wA-",     -- '/' is not in the modified alphabet
      "&AOl-",     -- non-zero leftover bits
      "&A-",       -- a spare digit
      "&AGE-",     -- "a" shifted although it has a direct form
      "&2D0-",     -- unpaired high surrogate
      "&3gA-",     -- unpaired low surrogate
      "&AOk-&AOk-", -- adjacent runs
      "Entwürfe",  -- raw 8-bit
    }) do
      local r, err = core.mutf7_decode(bad)
      assert.is_nil(r, bad)
      assert.are.equal("not valid modified UTF-7", err)
    end
  end)

  it("raises for non-string arguments", function()
    assert.has_error(function() core.mutf7_encode({}) end)
    assert.has_error(function() core.mutf7_decode() end)
  end)
end)
