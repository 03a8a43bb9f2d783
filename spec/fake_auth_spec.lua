-- Specs for logging in (imapsift.auth) against the scripted fake server:
-- the exchanges Dovecot does not offer (XOAUTH2, OAUTHBEARER and their
-- error continuations), SASL-IR or not, cancelling, SCRAM's server proof
-- on the wire, the choice of mechanism, and the exact bytes sent.
local imapsift = require "imapsift"
local fake = require "support.fake"
local util = require "support.util"

local b64 = imapsift.core.base64_encode
local CRLF = "\r\n"

local lit = util.lit

local session = fake.session()
local function start(steps, extra) return session:start(steps, extra) end
local function start_error(steps, extra)
  return session:start_error(steps, extra)
end
local err_of = util.catch

local finish = session.finish

local recorder = util.recorder

local greet = fake.greeting
local OK_CAPS = "OK [CAPABILITY IMAP4rev1 IDLE] logged in"

after_each(function() session:cleanup() end)

describe("XOAUTH2 and OAUTHBEARER", function()
  local USER, TOKEN = "alice@example.org", "ya29.a0Af-token_42"
  local XO = b64("user=" .. USER .. "\1auth=Bearer " .. TOKEN .. "\1\1")
  local OB = b64("n,a=" .. USER .. ",\1auth=Bearer " .. TOKEN .. "\1\1")

  it("XOAUTH2 with SASL-IR: the initial response in the command",
      function()
    local lines, trace = recorder()
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2"),
      { recv = "^A1 AUTHENTICATE XOAUTH2 " }, { reply = OK_CAPS } },
      { user = USER, token = TOKEN, trace = trace })
    assert.equal("AUTH", imap:state())
    assert.is_true(imap.capabilities.IDLE)
    assert.equal("A1 AUTHENTICATE XOAUTH2 " .. XO .. CRLF, finish(imap, srv))
    local all = table.concat(lines, "\n")
    assert.matches("C: A1 AUTHENTICATE XOAUTH2 ***", all, 1, true)
    assert.is_nil(all:find(TOKEN, 1, true))
    assert.is_nil(all:find(XO, 1, true))
  end)

  it("OAUTHBEARER is preferred when both are offered", function()
    local imap, srv = start({
      greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER"),
      { recv = "^A1 AUTHENTICATE OAUTHBEARER " }, { reply = OK_CAPS } },
      { user = USER, token = TOKEN })
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE OAUTHBEARER " .. OB .. CRLF,
      finish(imap, srv))
  end)

  it("auth = \"XOAUTH2\" picks it even when OAUTHBEARER is offered",
      function()
    local imap, srv = start({
      greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER"),
      { recv = "^A1 AUTHENTICATE XOAUTH2 " }, { reply = OK_CAPS } },
      { user = USER, token = TOKEN, auth = "xoauth2" })
    assert.equal("A1 AUTHENTICATE XOAUTH2 " .. XO .. CRLF, finish(imap, srv))
  end)

  it("XOAUTH2 failure: answers the JSON challenge with an empty line",
      function()
    local json = '{"status":"401","schemes":"Bearer","scope":"mail"}'
    local lines, trace = recorder()
    local err, srv = start_error({ greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2"),
      { recv = "^A1 AUTHENTICATE XOAUTH2 " },
      { send = "+ " .. b64(json) .. CRLF },
      { recv = "^\r\n$" },
      { send = "A1 NO [AUTHENTICATIONFAILED] Invalid credentials" .. CRLF },
      { drain = true } }, { user = USER, token = TOKEN, trace = trace })
    assert.equal("no", err.kind)
    assert.equal("AUTHENTICATIONFAILED", err.code)
    assert.equal("XOAUTH2", err.mechanism)
    assert.equal(json, err.detail)
    assert.matches('"status":"401"', err.text, 1, true)
    assert.matches("Invalid credentials", tostring(err), 1, true)
    assert.matches('"status":"401"', tostring(err), 1, true)
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
    assert.equal("A1 AUTHENTICATE XOAUTH2 " .. XO .. CRLF .. CRLF, srv:log())
    local all = table.concat(lines, "\n")
    assert.is_nil(all:find(TOKEN, 1, true))
  end)

  it("OAUTHBEARER failure: answers the JSON challenge with ^A", function()
    local json = '{"status":"invalid_token","scope":"imap"}'
    local err, srv = start_error({ greet("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER"),
      { recv = "^A1 AUTHENTICATE OAUTHBEARER " },
      { send = "+ " .. b64(json) .. CRLF },
      { recv = "^AQ==\r\n$" },
      { send = "A1 NO [AUTHENTICATIONFAILED] Bad token" .. CRLF },
      { drain = true } }, { user = USER, token = TOKEN })
    assert.equal("no", err.kind)
    assert.matches("invalid_token", err.text, 1, true)
    assert.equal("A1 AUTHENTICATE OAUTHBEARER " .. OB .. CRLF .. "AQ==" ..
      CRLF, srv:log())
  end)

  it("without SASL-IR the token follows the server's first +", function()
    local imap, srv = start({ greet("IMAP4rev1 AUTH=XOAUTH2"),
      { recv = "^A1 AUTHENTICATE XOAUTH2\r\n$" }, { send = "+ " .. CRLF },
      { recv = "^" .. lit(XO) .. "\r\n$" },
      { send = "A1 " .. OK_CAPS .. CRLF } },
      { user = USER, token = TOKEN })
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE XOAUTH2\r\n" .. XO .. CRLF,
      finish(imap, srv))
    assert.equal("done", srv:status())
  end)

  it("calls a token function again for every login (reconnect)",
      function()
    local calls = 0
    local function token()
      calls = calls + 1
      return "tok-" .. calls
    end
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2"),
      { recv = "^A1 AUTHENTICATE XOAUTH2 " }, { reply = OK_CAPS },
      { drain = true } }, { user = USER, token = token })
    assert.equal(1, calls)
    assert.equal("A1 AUTHENTICATE XOAUTH2 " ..
      b64("user=" .. USER .. "\1auth=Bearer tok-1\1\1") .. CRLF, srv:log())
    imap:reconnect() -- the fake plays its scenario again
    assert.equal(2, calls)
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE XOAUTH2 " ..
      b64("user=" .. USER .. "\1auth=Bearer tok-2\1\1") .. CRLF,
      finish(imap, srv))
  end)

  it("takes the token from token_command's first line", function()
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER"),
      { recv = "^A1 AUTHENTICATE OAUTHBEARER " }, { reply = OK_CAPS } },
      { user = "bob", token_command = "printf 'cmd-token\\nrest\\n'" })
    assert.equal("A1 AUTHENTICATE OAUTHBEARER " ..
      b64("n,a=bob,\1auth=Bearer cmd-token\1\1") .. CRLF, finish(imap, srv))
  end)

  it("a token function that returns nothing is a usage error, unsent",
      function()
    local err, srv = start_error({ greet("IMAP4rev1 SASL-IR AUTH=XOAUTH2"),
      { drain = true } }, { user = USER, token = function() return nil end })
    assert.equal("usage", err.kind)
    assert.matches("token function", err.text)
    assert.equal("", srv:log())
  end)

  it("refuses to send a token when the server offers no OAuth mechanism",
      function()
    local err, srv = start_error({ greet("IMAP4rev1 SASL-IR AUTH=PLAIN"),
      { drain = true } }, { user = USER, token = TOKEN })
    assert.equal("usage", err.kind)
    assert.matches("OAUTHBEARER", err.text)
    assert.equal("", srv:log())
  end)
end)

describe("PLAIN, SASL-IR and the default choice", function()
  local IR = b64("\0alice\0pw")

  it("uses SASL-IR when offered", function()
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=PLAIN"),
      { recv = "^A1 AUTHENTICATE PLAIN" }, { reply = OK_CAPS } },
      { user = "alice", password = "pw" })
    assert.equal("A1 AUTHENTICATE PLAIN " .. IR .. CRLF, finish(imap, srv))
  end)

  it("waits for the continuation without SASL-IR", function()
    local imap, srv = start({ greet("IMAP4rev1 AUTH=PLAIN"),
      { recv = "^A1 AUTHENTICATE PLAIN\r\n$" }, { send = "+ " .. CRLF },
      { recv = "^" .. lit(IR) .. "\r\n$" },
      { send = "A1 " .. OK_CAPS .. CRLF } },
      { user = "alice", password = "pw" })
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE PLAIN\r\n" .. IR .. CRLF,
      finish(imap, srv))
  end)

  it("falls back to the LOGIN command without AUTH= mechanisms", function()
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR"),
      { recv = "^A1 LOGIN" }, { reply = OK_CAPS } },
      { user = "alice", password = "pw" })
    assert.equal("A1 LOGIN alice pw\r\n", finish(imap, srv))
  end)

  it("LOGINDISABLED blocks only the LOGIN command", function()
    local imap, srv = start({
      greet("IMAP4rev1 LOGINDISABLED SASL-IR AUTH=PLAIN"),
      { recv = "^A1 AUTHENTICATE PLAIN" }, { reply = OK_CAPS } },
      { user = "alice", password = "pw" })
    assert.equal("A1 AUTHENTICATE PLAIN " .. IR .. CRLF, finish(imap, srv))
    local err, srv2 = start_error({ greet("IMAP4rev1 LOGINDISABLED"),
      { drain = true } }, { user = "alice", password = "pw",
        auth = "LOGIN-COMMAND" })
    assert.equal("usage", err.kind)
    assert.matches("LOGINDISABLED", err.text)
    assert.equal("", srv2:log())
  end)

  it("asks for the capabilities first when the greeting had none",
      function()
    local imap, srv = start({ { send = "* OK hello" .. CRLF },
      { recv = "^A1 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN" .. CRLF },
      { reply = "OK" },
      { recv = "^A2 AUTHENTICATE PLAIN " }, { reply = "OK done" },
      { recv = "^A3 CAPABILITY\r\n$" },
      { send = "* CAPABILITY IMAP4rev1 MOVE" .. CRLF }, { reply = "OK" } },
      { user = "alice", password = "pw" })
    -- No [CAPABILITY] in the OK: asked again after authenticating.
    assert.is_true(imap.capabilities.MOVE)
    assert.is_nil(imap.capabilities["AUTH=PLAIN"])
    assert.equal("A1 CAPABILITY\r\nA2 AUTHENTICATE PLAIN " .. IR ..
      "\r\nA3 CAPABILITY\r\n", finish(imap, srv))
  end)

  it("prefers SCRAM-SHA-256, then SCRAM-SHA-1, over PLAIN", function()
    local _, srv = start_error({
      greet("IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-1 " ..
        "AUTH=SCRAM-SHA-256 AUTH=CRAM-MD5"),
      { recv = "^A1 AUTHENTICATE SCRAM%-SHA%-256 " },
      { reply = "NO nope" }, { drain = true } },
      { user = "alice", password = "pw" })
    assert.matches("^A1 AUTHENTICATE SCRAM%-SHA%-256 ", srv:log())
    _, srv = start_error({
      greet("IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-1 AUTH=CRAM-MD5"),
      { recv = "^A1 AUTHENTICATE SCRAM%-SHA%-1 " },
      { reply = "NO nope" }, { drain = true } },
      { user = "alice", password = "pw" })
    assert.matches("^A1 AUTHENTICATE SCRAM%-SHA%-1 ", srv:log())
    -- CRAM-MD5 is never the default.
    _, srv = start_error({ greet("IMAP4rev1 AUTH=CRAM-MD5"),
      { recv = "^A1 LOGIN " }, { reply = "NO nope" }, { drain = true } },
      { user = "alice", password = "pw" })
    assert.equal("A1 LOGIN alice pw\r\n", srv:log())
  end)

  it("refuses inconsistent options before connecting", function()
    local bad = {
      { user = "a" },
      { user = "a", password = "p", token = "t" },
      { user = "a", password = "p", auth = "XOAUTH2" },
      { user = "a", token = "t", auth = "PLAIN" },
      { user = "a", password = "p", auth = "GSSAPI" },
      { password = "p" },
      { user = "a", token = 42 },
    }
    for _, o in ipairs(bad) do
      o.command = "exit 1"
      local ok, err = pcall(imapsift.connect, o)
      assert.is_false(ok)
      assert.equal("usage", err.kind)
      assert.matches("^connect failed: ", tostring(err))
    end
  end)
end)

describe("SCRAM on the wire", function()
  -- The RFC 5802 exchange, with the client nonce injected.
  local CREDS = { user = "user", password = "pencil",
    nonce = "fyko+d2lbbFgONRv9qkxdawL" }
  local FIRST = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
  local SFIRST = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," ..
    "s=QSXCR+Q6sek8bf92,i=4096"
  local FINAL = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," ..
    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="

  local function scram_steps(server_final, after)
    local steps = { greet("IMAP4rev1 SASL-IR AUTH=SCRAM-SHA-1"),
      { recv = "^A1 AUTHENTICATE SCRAM%-SHA%-1 " .. lit(b64(FIRST)) ..
        "\r\n$" },
      { send = "+ " .. b64(SFIRST) .. CRLF },
      { recv = "^" .. lit(b64(FINAL)) .. "\r\n$" },
      { send = "+ " .. b64(server_final) .. CRLF } }
    for _, s in ipairs(after) do steps[#steps + 1] = s end
    return steps
  end

  it("completes the RFC 5802 exchange", function()
    local imap, srv = start(scram_steps("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
      { { recv = "^\r\n$" }, { send = "A1 " .. OK_CAPS .. CRLF } }))
    local text = imap:sasl_login("SCRAM-SHA-1", CREDS, "LOGIN as user")
    assert.equal("logged in", text)
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE SCRAM-SHA-1 " .. b64(FIRST) .. CRLF ..
      b64(FINAL) .. CRLF .. CRLF, finish(imap, srv))
  end)

  it("cancels with * on a wrong server signature", function()
    local imap, srv = start(scram_steps("v=" .. b64(("\0"):rep(20)),
      { { recv = "^%*\r\n$" },
        { send = "A1 BAD [AUTHENTICATIONFAILED] canceled" .. CRLF },
        { drain = true } }))
    local err = err_of(imap.sasl_login, imap, "SCRAM-SHA-1", CREDS,
      "LOGIN as user")
    assert.equal("protocol", err.kind)
    assert.equal("SCRAM server signature does not match", err.text)
    assert.equal("LOGIN as user", err.command)
    assert.equal("NONAUTH", imap:state())
    assert.matches(lit(b64(FINAL)) .. "\r\n%*\r\n$", finish(imap, srv))
  end)

  it("drops a connection the server accepted without its signature",
      function()
    local imap, srv = start{ greet("IMAP4rev1 SASL-IR AUTH=SCRAM-SHA-1"),
      { recv = "^A1 AUTHENTICATE" },
      { send = "+ " .. b64(SFIRST) .. CRLF },
      { recv = "^" .. lit(b64(FINAL)) .. "\r\n$" },
      { send = "A1 OK welcome, trust me" .. CRLF }, { drain = true } }
    local err = err_of(imap.sasl_login, imap, "SCRAM-SHA-1", CREDS,
      "LOGIN as user")
    assert.equal("protocol", err.kind)
    assert.matches("signature", err.text)
    assert.equal("LOGOUT", imap:state())
    assert.equal("done", srv:status())
  end)

  it("reports a server's e= error with its NO", function()
    local imap = start(scram_steps("e=invalid-proof",
      { { recv = "^\r\n$" },
        { send = "A1 NO [AUTHENTICATIONFAILED] failed" .. CRLF },
        { drain = true } }))
    local err = err_of(imap.sasl_login, imap, "SCRAM-SHA-1", CREDS,
      "LOGIN as user")
    assert.equal("no", err.kind)
    assert.equal("AUTHENTICATIONFAILED", err.code)
    assert.matches("invalid-proof", err.text, 1, true)
  end)

  it("cancels on a challenge that is not base64", function()
    local imap, srv = start{ greet("IMAP4rev1 SASL-IR AUTH=SCRAM-SHA-1"),
      { recv = "^A1 AUTHENTICATE" }, { send = "+ not base64!" .. CRLF },
      { recv = "^%*\r\n$" }, { send = "A1 BAD canceled" .. CRLF },
      { drain = true } }
    local err = err_of(imap.sasl_login, imap, "SCRAM-SHA-1", CREDS, "x")
    assert.equal("protocol", err.kind)
    assert.matches("base64", err.text)
    assert.matches("\r\n%*\r\n$", finish(imap, srv))
  end)
end)

describe("authenticate(mechanism, fn)", function()
  it("lets the server speak first and hides the responses", function()
    local lines, trace = recorder()
    local seen = {}
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=X-TEST"),
      { recv = "^A1 AUTHENTICATE X%-TEST\r\n$" },
      { send = "+ " .. b64("who?") .. CRLF },
      { recv = "^" .. lit(b64("me")) .. "\r\n$" },
      { send = "+ " .. CRLF }, { recv = "^" .. lit(b64("s3cr3t")) .. "\r\n$" },
      { send = "A1 " .. OK_CAPS .. CRLF } }, { trace = trace })
    local answers = { "me", "s3cr3t" }
    local text = imap:authenticate("x-test", function(challenge)
      seen[#seen + 1] = challenge
      return answers[#seen]
    end)
    assert.equal("logged in", text)
    assert.same({ "who?", "" }, seen)
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE X-TEST\r\n" .. b64("me") .. CRLF ..
      b64("s3cr3t") .. CRLF, finish(imap, srv))
    local all = table.concat(lines, "\n")
    assert.is_nil(all:find(b64("s3cr3t"), 1, true))
    assert.is_nil(all:find(b64("me"), 1, true))
    -- The server's challenges stay out too (SCRAM's would allow an
    -- offline dictionary attack).
    assert.is_nil(all:find(b64("who?"), 1, true))
    assert.matches("S: %+ %*%*%*", all)
  end)

  it("cancels with * when fn returns nil; the server's BAD is raised",
      function()
    local imap, srv = start{ greet("IMAP4rev1 AUTH=X-TEST"),
      { recv = "^A1 AUTHENTICATE X%-TEST\r\n$" }, { send = "+ " .. CRLF },
      { recv = "^%*\r\n$" },
      { send = "A1 BAD Authentication canceled" .. CRLF },
      { drain = true } }
    local err = err_of(imap.authenticate, imap, "X-TEST", function()
      return nil
    end)
    assert.equal("bad", err.kind)
    assert.equal("AUTHENTICATE X-TEST", err.command)
    assert.equal("NONAUTH", imap:state())
    assert.equal("A1 AUTHENTICATE X-TEST\r\n*\r\n", finish(imap, srv))
  end)

  it("cancels when fn raises, then raises fn's error", function()
    local imap, srv = start{ greet("IMAP4rev1 AUTH=X-TEST"),
      { recv = "^A1 AUTHENTICATE X%-TEST\r\n$" }, { send = "+ " .. CRLF },
      { recv = "^%*\r\n$" },
      { send = "A1 BAD Authentication canceled" .. CRLF },
      { drain = true } }
    local ok, err = pcall(imap.authenticate, imap, "X-TEST", function()
      error("no key in the agent", 0)
    end)
    assert.is_false(ok)
    assert.equal("no key in the agent", err)
    assert.equal("A1 AUTHENTICATE X-TEST\r\n*\r\n", finish(imap, srv))
  end)

  it("login_cram_md5 answers the challenge (RFC 2195)", function()
    local ch = "<1896.697170952@postoffice.reston.mci.net>"
    local imap, srv = start{ greet("IMAP4rev1 SASL-IR AUTH=CRAM-MD5"),
      { recv = "^A1 AUTHENTICATE CRAM%-MD5\r\n$" },
      { send = "+ " .. b64(ch) .. CRLF }, { recv = "\r\n$" },
      { send = "A1 " .. OK_CAPS .. CRLF } }
    imap:login_cram_md5("tim", "tanstaaftanstaaf")
    assert.equal("AUTH", imap:state())
    assert.equal("A1 AUTHENTICATE CRAM-MD5\r\n" ..
      b64("tim b913a602c7eda7a495b4e6e7334d3890") .. CRLF, finish(imap, srv))
  end)

  it("a BYE during the exchange is an error of kind bye", function()
    local imap = start{ greet("IMAP4rev1 AUTH=X-TEST"),
      { recv = "^A1 AUTHENTICATE" }, { send = "* BYE shutting down" .. CRLF },
      { close = true } }
    local err = err_of(imap.authenticate, imap, "X-TEST", function()
      return "x"
    end)
    assert.equal("bye", err.kind)
    assert.equal("LOGOUT", imap:state())
  end)
end)

describe("authzid", function()
  it("goes into PLAIN's first field", function()
    local imap, srv = start({ greet("IMAP4rev1 SASL-IR AUTH=PLAIN"),
      { recv = "^A1 AUTHENTICATE PLAIN " }, { reply = OK_CAPS } },
      { user = "admin", password = "pw", authzid = "alice" })
    assert.equal("A1 AUTHENTICATE PLAIN " .. b64("alice\0admin\0pw") ..
      CRLF, finish(imap, srv))
  end)
end)
