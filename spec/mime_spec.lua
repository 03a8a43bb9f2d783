-- Specs for imapsift.mime: RFC 2047 encoded words in header text.
local mime = require "imapsift.mime"

describe("imapsift.mime.decode", function()
  it("decodes Q and B words in UTF-8", function()
    assert.equal("Café au lait", mime.decode("=?utf-8?q?Caf=C3=A9_au_lait?="))
    assert.equal("Grüße", mime.decode("=?UTF-8?B?R3LDvMOfZQ==?="))
  end)

  it("turns ISO-8859-1 into UTF-8", function()
    assert.equal("Grüße", mime.decode("=?iso-8859-1?q?Gr=FC=DFe?="))
  end)

  it("joins adjacent words and keeps plain text around them", function()
    assert.equal("Re: Café crème today",
      mime.decode("Re: =?utf-8?q?Caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?= today"))
  end)

  it("decodes any charset iconv knows", function()
    assert.equal("Привет", mime.decode("=?koi8-r?b?8NLJ18XU?="))
  end)

  it("leaves unknown charsets, bad encodings and plain text alone", function()
    local unknown = "=?x-no-such-charset?b?8NLJ18XU?="
    assert.equal(unknown, mime.decode(unknown))
    assert.equal("=?utf-8?b?!!!?=", mime.decode("=?utf-8?b?!!!?="))
    assert.equal("=?utf-8?q?=FF?=", mime.decode("=?utf-8?q?=FF?=")) -- not UTF-8
    assert.equal("plain subject", mime.decode("plain subject"))
    assert.is_nil(mime.decode(nil))
  end)
end)
