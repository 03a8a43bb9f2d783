-- Specs for imapsift.sasl (the SASL client state machines) and the
-- crypto primitives of imapsift.core they use, against the RFCs' test
-- vectors: RFC 5802 (SCRAM-SHA-1), RFC 7677 (SCRAM-SHA-256), RFC 2195
-- (CRAM-MD5), FIPS 180 / RFC 4231 / RFC 6070 (SHA, HMAC, PBKDF2).
local core = require "imapsift.core"
local errors = require "imapsift.error"
local sasl = require "imapsift.sasl"

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(s)
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

local function usage_error(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.is_true(errors.is(err, "usage"), tostring(err))
  return err
end

describe("crypto primitives", function()
  it("hashes with SHA-1, SHA-256 and MD5", function()
    assert.equal("ba7816bf8f01cfea414140de5dae2223" ..
      "b00361a396177a9cb410ff61f20015ad",
      hex(core.hash("sha256", "abc")))
    assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d",
      hex(core.hash("sha1", "abc")))
    assert.equal("900150983cd24fb0d6963f7d28e17f72",
      hex(core.hash("md5", "abc")))
    assert.equal("e3b0c44298fc1c149afbf4c8996fb924" ..
      "27ae41e4649b934ca495991b7852b855",
      hex(core.hash("sha256", "")))
  end)

  it("computes HMAC (RFC 4231 case 1 and 2, RFC 2202 MD5 case 2)",
      function()
    assert.equal("b0344c61d8db38535ca8afceaf0bf12b" ..
      "881dc200c9833da726e9376c2e32cff7",
      hex(core.hmac("sha256", ("\11"):rep(20), "Hi There")))
    assert.equal("5bdcc146bf60754e6a042426089575c7" ..
      "5a003f089d2739839dec58b964ec3843",
      hex(core.hmac("sha256", "Jefe", "what do ya want for nothing?")))
    assert.equal("750c783e6ab0b503eaa86e310a5db738",
      hex(core.hmac("md5", "Jefe", "what do ya want for nothing?")))
  end)

  it("derives keys with PBKDF2 (RFC 6070 cases 1, 2 and 5)", function()
    assert.equal("0c60c80f961f0e71f3a9b524af6012062fe037a6",
      hex(core.pbkdf2("sha1", "password", "salt", 1, 20)))
    assert.equal("4b007901b765489abead49d926f721d065a429c1",
      hex(core.pbkdf2("sha1", "password", "salt", 4096, 20)))
    assert.equal("3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
      hex(core.pbkdf2("sha1", "passwordPASSWORDpassword",
        "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25)))
  end)

  it("decodes strict base64 only", function()
    assert.equal("AB", core.base64_decode("QUI="))
    assert.equal("", core.base64_decode(""))
    -- White space would make the padding count wrong: refused, not NULs.
    assert.is_nil(core.base64_decode("QUI=    "))
    assert.is_nil(core.base64_decode("Q UI"))
    assert.is_nil(core.base64_decode("QU=I"))
    assert.is_nil(core.base64_decode("Q==="))
  end)

  it("refuses bad iteration counts and lengths", function()
    assert.has_error(function() core.pbkdf2("sha1", "p", "s", 0, 20) end)
    assert.has_error(function() core.pbkdf2("sha1", "p", "s", -5, 20) end)
    assert.has_error(function()
      core.pbkdf2("sha1", "p", "s", 10000001, 20)
    end)
    assert.has_error(function() core.pbkdf2("sha1", "p", "s", 1, 0) end)
    assert.has_error(function() core.pbkdf2("sha1", "p", "s", 1, 1e6 // 1) end)
  end)

  it("refuses unknown digests and wrong argument types", function()
    local ok, err = pcall(core.hash, "sha512", "x")
    assert.is_false(ok)
    assert.matches("bad argument #1", err)
    assert.has_error(function() core.hmac("sha256", nil, "x") end)
    assert.has_error(function() core.hash("sha1") end)
  end)

  it("gives random bytes of the length asked for, different each time",
      function()
    local a, b = core.random(32), core.random(32)
    assert.equal(32, #a)
    assert.not_equal(a, b)
    assert.equal("", core.random(0))
    assert.has_error(function() core.random(-1) end)
    assert.has_error(function() core.random(1 << 20) end)
  end)

  it("XORs strings of equal length and refuses unequal ones", function()
    assert.equal(unhex("0f0f00ff"), core.xor(unhex("f0f0aa00"),
      unhex("ffffaaff")))
    assert.equal("", core.xor("", ""))
    local ok, err = pcall(core.xor, "ab", "abc")
    assert.is_false(ok)
    assert.matches("bad argument #2", err)
  end)
end)

describe("SCRAM-SHA-1 (RFC 5802 section 5)", function()
  local function rfc_mech()
    return sasl.new("SCRAM-SHA-1", { user = "user", password = "pencil",
      nonce = "fyko+d2lbbFgONRv9qkxdawL" })
  end
  local SERVER_FIRST = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," ..
    "s=QSXCR+Q6sek8bf92,i=4096"

  it("produces the RFC's messages and accepts its server signature",
      function()
    local m = rfc_mech()
    assert.equal("SCRAM-SHA-1", m.name)
    assert.equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", m:start())
    assert.equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," ..
      "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", m:step(SERVER_FIRST))
    assert.is_nil(m:finish()) -- not verified yet
    assert.equal("", m:step("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="))
    assert.is_true(m:finish())
  end)

  it("fails loudly on a wrong server signature", function()
    local m = rfc_mech()
    m:start()
    m:step(SERVER_FIRST)
    local r, err = m:step("v=" .. core.base64_encode(("x"):rep(20)))
    assert.is_nil(r)
    assert.is_true(errors.is(err, "protocol"))
    assert.equal("SCRAM server signature does not match", err.text)
    local ok, ferr = m:finish()
    assert.is_nil(ok)
    assert.equal("protocol", ferr.kind)
  end)

  it("refuses an OK that came without the server signature", function()
    local m = rfc_mech()
    m:start()
    m:step(SERVER_FIRST)
    local ok, err = m:finish()
    assert.is_nil(ok)
    assert.equal("protocol", err.kind)
    assert.matches("signature", err.text)
  end)

  it("keeps a server's e= error and answers so that NO can follow",
      function()
    local m = rfc_mech()
    m:start()
    m:step(SERVER_FIRST)
    assert.equal("", m:step("e=invalid-proof"))
    assert.equal("invalid-proof", m.failure)
    local ok, err = m:finish() -- an OK after e= is not believed
    assert.is_nil(ok)
    assert.matches("invalid%-proof", err.text)
    m = rfc_mech()
    m:start()
    assert.equal("", m:step("e=unknown-user"))
    assert.equal("unknown-user", m.failure)
  end)

  it("refuses server nonces that do not extend its own", function()
    local m = rfc_mech()
    m:start()
    local r, err = m:step("r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096")
    assert.is_nil(r)
    assert.matches("nonce", err.text)
    m = rfc_mech()
    m:start()
    r = m:step("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096")
    assert.is_nil(r) -- the same nonce, not extended
  end)

  it("refuses malformed server-first messages, huge counts, extensions",
      function()
    local bad = {
      "garbage",
      "r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92",
      "r=fyko+d2lbbFgONRv9qkxdawLX,s=!!!!,i=4096",
      "r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=0",
      "r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=99999999999",
      "r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=-1",
      "m=ext,r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=4096",
    }
    for _, msg in ipairs(bad) do
      local m = rfc_mech()
      m:start()
      local r, err = m:step(msg)
      assert.is_nil(r, msg)
      assert.equal("protocol", err.kind, msg)
    end
  end)

  it("refuses a challenge after the exchange ended", function()
    local m = rfc_mech()
    m:start()
    m:step(SERVER_FIRST)
    m:step("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    local r, err = m:step("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert.is_nil(r)
    assert.equal("protocol", err.kind)
  end)

  it("escapes = and , in the user name and sends an authzid", function()
    local m = sasl.new("SCRAM-SHA-1", { user = "a=b,c", password = "p",
      nonce = "abc", authzid = "x,y" })
    assert.equal("n,a=x=2Cy,n=a=3Db=2Cc,r=abc", m:start())
  end)

  it("makes a fresh random nonce when none is given", function()
    local a = sasl.new("SCRAM-SHA-256", { user = "u", password = "p" })
    local b = sasl.new("SCRAM-SHA-256", { user = "u", password = "p" })
    local na = a:start():match("^n,,n=u,r=([^,]+)$")
    local nb = b:start():match("^n,,n=u,r=([^,]+)$")
    assert.is_string(na)
    assert.is_true(#na >= 24)
    assert.not_equal(na, nb)
  end)

  it("refuses a nonce with a comma", function()
    usage_error(sasl.new, "SCRAM-SHA-1", { user = "u", password = "p",
      nonce = "a,b" })
  end)
end)

describe("SCRAM-SHA-256 (RFC 7677 section 3)", function()
  it("produces the RFC's messages and accepts its server signature",
      function()
    local m = sasl.new("SCRAM-SHA-256", { user = "user", password = "pencil",
      nonce = "rOprNGfwEbeRWgbNEkqO" })
    assert.equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", m:start())
    assert.equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)" ..
      "hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      m:step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," ..
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
    assert.equal("",
      m:step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
    assert.is_true(m:finish())
  end)

  it("fails on the SHA-1 signature of the same exchange", function()
    local m = sasl.new("SCRAM-SHA-256", { user = "user", password = "pencil",
      nonce = "rOprNGfwEbeRWgbNEkqO" })
    m:start()
    m:step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," ..
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    local r, err = m:step("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert.is_nil(r)
    assert.equal("SCRAM server signature does not match", err.text)
  end)
end)

describe("CRAM-MD5 (RFC 2195)", function()
  it("answers the RFC's challenge", function()
    local m = sasl.new("CRAM-MD5", { user = "tim",
      password = "tanstaaftanstaaf" })
    assert.is_nil(m:start())
    assert.equal("tim b913a602c7eda7a495b4e6e7334d3890",
      m:step("<1896.697170952@postoffice.reston.mci.net>"))
    assert.is_true(m:finish())
    local r, err = m:step("<again@x>")
    assert.is_nil(r)
    assert.equal("protocol", err.kind)
  end)
end)

describe("PLAIN and LOGIN", function()
  it("PLAIN: one message, authzid optional", function()
    local m = sasl.new("plain", { user = "alice", password = "s3cret" })
    assert.equal("PLAIN", m.name)
    assert.equal("\0alice\0s3cret", m:start())
    assert.equal("AGFsaWNlAHMzY3JldA==", core.base64_encode(m:start()))
    m = sasl.new("PLAIN", { user = "alice", password = "pw",
      authzid = "admin" })
    assert.equal("admin\0alice\0pw", m:start())
    local r, err = m:step("")
    assert.is_nil(r)
    assert.equal("protocol", err.kind)
    assert.is_true(m:finish())
  end)

  it("PLAIN refuses a NUL inside a field", function()
    usage_error(sasl.new, "PLAIN", { user = "a\0b", password = "p" })
  end)

  it("LOGIN: user, then password, whatever the prompts say", function()
    local m = sasl.new("LOGIN", { user = "alice", password = "pw" })
    assert.is_nil(m:start())
    assert.equal("alice", m:step("Username:"))
    assert.equal("pw", m:step("Password:"))
    local r, err = m:step("More?")
    assert.is_nil(r)
    assert.equal("protocol", err.kind)
  end)
end)

describe("OAuth", function()
  it("XOAUTH2: user and bearer token, answers an error with nothing",
      function()
    local m = sasl.new("XOAUTH2", { user = "a@b.c", token = "ya29.tok" })
    assert.equal("user=a@b.c\1auth=Bearer ya29.tok\1\1", m:start())
    local json = '{"status":"401","schemes":"bearer"}'
    assert.equal("", m:step(json))
    assert.equal(json, m.failure)
    assert.is_nil((m:step(json)))
  end)

  it("OAUTHBEARER: gs2 header, host, port, answers an error with ^A",
      function()
    local m = sasl.new("OAUTHBEARER", { user = "a,b@c", token = "t0k",
      host = "imap.example.org", port = 993 })
    assert.equal("n,a=a=2Cb@c,\1host=imap.example.org\1port=993\1" ..
      "auth=Bearer t0k\1\1", m:start())
    assert.equal("\1", m:step('{"status":"invalid_token"}'))
    assert.equal('{"status":"invalid_token"}', m.failure)
    m = sasl.new("OAUTHBEARER", { token = "t" })
    assert.equal("n,,\1auth=Bearer t\1\1", m:start())
  end)

  it("refuses a token with ^A in it", function()
    usage_error(sasl.new, "XOAUTH2", { user = "u", token = "a\1b" })
    usage_error(sasl.new, "OAUTHBEARER", { token = "a\1b" })
  end)
end)

describe("sasl.new", function()
  it("refuses unknown mechanisms and missing credentials", function()
    assert.is_false(sasl.supported("GSSAPI"))
    assert.is_true(sasl.supported("scram-sha-256"))
    usage_error(sasl.new, "GSSAPI", {})
    usage_error(sasl.new, "PLAIN", { user = "u" })
    usage_error(sasl.new, "XOAUTH2", { user = "u", password = "p" })
    local err = usage_error(sasl.new, "SCRAM-SHA-1", { password = "p" })
    assert.matches("user", err.text)
  end)

  it("maps non-ASCII spaces and soft hyphens (SASLprep mapping)",
      function()
    assert.equal("a b", sasl.saslprep("a\194\160b"))
    assert.equal("ab", sasl.saslprep("a\194\173b"))
    assert.equal("plain", sasl.saslprep("plain"))
    assert.equal("\255bad", sasl.saslprep("\255bad"))
    assert.equal("=3D=2C", sasl.saslname("=,"))
  end)
end)
