-- Specs for mandatory STARTTLS (tls = "starttls") against hostile fake
-- servers over the stream transport: every failure must come before a
-- credential or a mailbox command is sent (RFC 2595, RFC 9051 11.1).
-- (The refusal of LOGIN over plain TCP needs a socket: the real-Dovecot
-- specs cover it.)
local imapsift = require "imapsift"
local errors = require "imapsift.error"
local fake = require "support.fake"

local session = fake.session()
after_each(function() session:cleanup() end)

-- connect_error(steps [, extra]) -> error, server log. Connects with
-- credentials and tls = "starttls"; the connect must fail.
local function connect_error(steps, extra)
  local srv = session:new(steps)
  local opts = srv:options{ tls = "starttls", user = "alice",
    password = "secret", timeout = 3 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local ok, err = pcall(imapsift.connect, opts)
  assert.is_false(ok, "connect succeeded")
  assert.is_true(errors.is(err), "not a structured error: " .. tostring(err))
  collectgarbage() -- reaps the connection if it was left open
  collectgarbage()
  return err, srv:log(), srv
end

-- Nothing that must wait for TLS was sent.
local function assert_no_secrets(log)
  assert.is_nil(log:find("LOGIN", 1, true), log)
  assert.is_nil(log:find("AUTHENTICATE", 1, true), log)
  assert.is_nil(log:find("secret", 1, true), log)
  assert.is_nil(log:find("SELECT", 1, true), log)
end

describe("STARTTLS", function()
  it("fails when the greeting and CAPABILITY lack STARTTLS", function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n" },
      { recv = "^A1 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" },
      { reply = "OK done" }, { drain = true } }
    assert.equal("tls", err.kind)
    assert.matches("STARTTLS", tostring(err))
    assert_no_secrets(log)
    assert.equal("A1 CAPABILITY\r\n", log)
  end)

  it("fails when a greeting without capabilities is followed by none",
      function()
    local err, log = connect_error{ { send = "* OK hi\r\n" },
      { recv = "^A1 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 LOGINDISABLED\r\n" },
      { reply = "OK done" }, { drain = true } }
    assert.equal("tls", err.kind)
    assert.equal("A1 CAPABILITY\r\n", log)
  end)

  it("fails when STARTTLS is answered NO", function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" }, { reply = "NO [UNAVAILABLE] not now" },
      { drain = true } }
    assert.equal("tls", err.kind)
    assert.equal("UNAVAILABLE", err.code)
    assert.matches("STARTTLS", tostring(err))
    assert.equal("A1 STARTTLS\r\n", log)
  end)

  it("fails when STARTTLS is answered BAD", function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" }, { reply = "BAD huh" },
      { drain = true } }
    assert.equal("tls", err.kind)
    assert.equal("A1 STARTTLS\r\n", log)
  end)

  it("refuses a plaintext PREAUTH greeting before sending anything",
      function()
    local err, log = connect_error{
      { send = "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { drain = true } }
    assert.equal("tls", err.kind)
    assert.matches("PREAUTH", tostring(err))
    assert.equal("", log)
  end)

  it("aborts on response injection after the STARTTLS OK", function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" },
      { send = "A1 OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1] injected\r\n" },
      { drain = true } }
    assert.equal("tls", err.kind)
    assert.matches("injection", err.text)
    -- Not even a TLS ClientHello follows the STARTTLS line.
    assert.equal("A1 STARTTLS\r\n", log)
  end)

  it("aborts on an injected tagged reply glued to the STARTTLS OK",
      function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" },
      { send = "A1 OK Begin TLS\r\nA2 OK [CAPABILITY IMAP4rev1] x\r\n" },
      { drain = true } }
    assert.equal("tls", err.kind)
    assert.equal("A1 STARTTLS\r\n", log)
  end)

  it("a failed handshake never falls back to plaintext", function()
    -- The fake accepts STARTTLS but cannot speak TLS: it reads the
    -- header of the client's ClientHello and hangs up. The client must
    -- give up without a LOGIN.
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" }, { reply = "OK Begin TLS" },
      { read = 5 }, { send = "* OK not TLS at all\r\n" }, { close = true } }
    assert.equal("tls", err.kind)
    assert.equal("A1 STARTTLS\r\n", log:sub(1, 13))
    assert.equal("\22\3", log:sub(14, 15)) -- a TLS handshake record
    assert_no_secrets(log)
  end)

  it("a server that closes after the STARTTLS OK is a tls error", function()
    local err, log = connect_error{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n" },
      { recv = "^A1 STARTTLS\r\n$" }, { reply = "OK Begin TLS" },
      { close = true } }
    assert.is_true(err.kind == "tls" or err.kind == "closed",
      "kind " .. err.kind)
    assert_no_secrets(log)
  end)
end)
