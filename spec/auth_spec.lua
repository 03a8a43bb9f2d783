-- Integration specs for logging in (imapsift.auth, imapsift.sasl) against
-- the private Dovecot, which offers PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1
-- and SCRAM-SHA-256 and SASL-IR: every mechanism, the default choice,
-- wrong passwords, password_command, STARTTLS and the plaintext rule,
-- with traces checked for secrets.
local imapsift = require "imapsift"
local server = require "support.server"
local util = require "support.util"

local catch = util.catch
local b64 = imapsift.core.base64_encode

local USER = server.as(1) -- carol: this file's own user
local PASSWORD = server.password

local recorder = util.recorder

local count = util.count

-- No form of the password in the trace: as is, base64 alone, or inside
-- a PLAIN message.
local function assert_no_secret(lines)
  local all = table.concat(lines, "\n")
  for _, s in ipairs{ PASSWORD, b64(PASSWORD),
      b64("\0" .. USER .. "\0" .. PASSWORD) } do
    assert.is_nil(all:find(s, 1, true), "secret in the trace: " .. all)
  end
end

local function assert_logged_in(imap)
  assert.equal("AUTH", imap:state())
  assert.is_true(imap.capabilities.MOVE) -- refreshed after login
  local box = imap:select("INBOX")
  assert.equal("INBOX", box.name)
  imap:logout()
end

describe("every mechanism Dovecot offers", function()
  local cases = {
    { "PLAIN", "^C: A1 AUTHENTICATE PLAIN %*%*%*$" },   -- SASL-IR
    { "LOGIN", "^C: A1 AUTHENTICATE LOGIN$" },
    { "CRAM-MD5", "^C: A1 AUTHENTICATE CRAM%-MD5$" },
    { "SCRAM-SHA-1", "^C: A1 AUTHENTICATE SCRAM%-SHA%-1 %*%*%*$" },
    { "SCRAM-SHA-256", "^C: A1 AUTHENTICATE SCRAM%-SHA%-256 %*%*%*$" },
    { "LOGIN-COMMAND", "^C: A1 LOGIN carol %*%*%*$" },
  }
  for _, case in ipairs(cases) do
    local mech, line = case[1], case[2]
    it(mech .. " logs in as " .. USER, function()
      local lines, trace = recorder()
      local imap = server.connect{ auth = mech, trace = trace }
      assert.equal(1, count(lines, line), table.concat(lines, "\n"))
      assert_no_secret(lines)
      assert_logged_in(imap)
    end)
  end

  -- Each failure makes Dovecot slow down later logins from this address
  -- (its auth penalty), for every spec running: a few are enough (SCRAM
  -- is below, under the default mechanism).
  for _, mech in ipairs{ "PLAIN", "CRAM-MD5" } do
    it(mech .. " with a wrong password fails with kind no", function()
      local err = catch(server.connect, { auth = mech,
        password = "wrong-pw-x" })
      assert.equal("no", err.kind)
      assert.equal("AUTHENTICATIONFAILED", err.code)
      assert.matches('^LOGIN as "carol" failed: NO %[AUTHENTICATIONFAILED%]',
        tostring(err))
      assert.is_nil(tostring(err):find("wrong-pw-x", 1, true))
      assert.equal(mech, err.mechanism)
    end)
  end

  it("login_cram_md5 on an open connection", function()
    local imap = server.connect_anonymous()
    assert.equal("NONAUTH", imap:state())
    assert.equal("string", type(imap:login_cram_md5(USER, PASSWORD)))
    assert_logged_in(imap)
  end)

  it("login_with on an open connection", function()
    local imap = server.connect_anonymous()
    imap:login_with{ user = USER, password = PASSWORD, auth = "SCRAM-SHA-1" }
    assert_logged_in(imap)
  end)
end)

describe("the default mechanism", function()
  it("is SCRAM-SHA-256, and no form of the password is traced",
      function()
    local lines, trace = recorder()
    local imap = server.connect{ trace = trace }
    assert.equal(1, count(lines, "^C: A1 AUTHENTICATE SCRAM%-SHA%-256 "))
    assert.equal(0, count(lines, "^C: %S+ LOGIN"))
    assert.equal(0, count(lines, "PLAIN %*"))
    assert_no_secret(lines)
    assert_logged_in(imap)
  end)

  it("a wrong password: kind no with the server's code", function()
    local err = catch(server.connect, { password = "not-carols" })
    assert.equal("no", err.kind)
    assert.equal("AUTHENTICATIONFAILED", err.code)
    assert.equal("SCRAM-SHA-256", err.mechanism)
    assert.is_nil(tostring(err):find("not-carols", 1, true))
  end)
end)

describe("password_command", function()
  it("uses the first line of the command's output", function()
    local lines, trace = recorder()
    local imap = server.connect{ password = server.UNSET,
      password_command = "printf 'carol-pw\\nignored\\n'", trace = trace }
    assert_no_secret(lines)
    assert_logged_in(imap)
  end)

  it("runs again at every login (reconnect)", function()
    local file = util.tmpname()
    local imap = server.connect{ password = server.UNSET,
      password_command = "echo run >> '" .. file .. "'; echo carol-pw" }
    assert.equal("run\n", util.read_file(file))
    imap:reconnect()
    assert.equal("AUTH", imap:state())
    assert.equal("run\nrun\n", util.read_file(file))
    imap:logout()
    os.remove(file)
  end)

  it("a failing command is a usage error that names it, not its output",
      function()
    local lines, trace = recorder()
    local cmd = "printf 'leak%sme\\n' 1; exit 3" -- prints leak1me
    local err = catch(server.connect, { password = server.UNSET,
      password_command = cmd, trace = trace })
    assert.equal("usage", err.kind)
    assert.matches(cmd, err.text, 1, true)
    assert.matches("exit status 3", err.text, 1, true)
    assert.is_nil(tostring(err):find("leak1me", 1, true))
    assert.equal(0, count(lines, "^C: "))
  end)

  it("a command that prints nothing is a usage error", function()
    local err = catch(server.connect, { password = server.UNSET,
      password_command = "true" })
    assert.equal("usage", err.kind)
    assert.matches('password_command "true" printed no password', err.text,
      1, true)
  end)

  it("a wrong password from the command fails with kind no", function()
    local err = catch(server.connect, { password = server.UNSET,
      password_command = "echo wrong-one" })
    assert.equal("no", err.kind)
    assert.is_nil(tostring(err):find("wrong-one", 1, true))
  end)
end)

describe("STARTTLS and plaintext", function()
  it("authenticates after STARTTLS", function()
    local lines, trace = recorder()
    local imap = server.connect{ tls = "starttls", port = server.imap_port,
      trace = trace }
    local starttls, auth = nil, nil
    for i, l in ipairs(lines) do
      if l:find("^C: %S+ STARTTLS") then starttls = i end
      if l:find("^C: %S+ AUTHENTICATE SCRAM%-SHA%-256") then auth = i end
    end
    assert.is_number(starttls)
    assert.is_number(auth)
    assert.is_true(auth > starttls)
    assert_no_secret(lines)
    assert_logged_in(imap)
  end)

  it("PLAIN after STARTTLS", function()
    local imap = server.connect{ tls = "starttls", port = server.imap_port,
      auth = "PLAIN" }
    assert_logged_in(imap)
  end)

  it("refuses every mechanism over plaintext by default", function()
    for _, mech in ipairs{ "SCRAM-SHA-256", "CRAM-MD5", "PLAIN", false } do
      local lines, trace = recorder()
      local err = catch(server.connect, { tls = "none",
        port = server.imap_port, auth = mech or nil, trace = trace })
      assert.equal("usage", err.kind)
      assert.matches("plaintext", err.text)
      assert.equal(0, count(lines, "^C: "))
    end
  end)

  it("refuses a token over plaintext, before calling for it", function()
    local called = false
    local err = catch(server.connect, { tls = "none",
      port = server.imap_port, password = server.UNSET,
      token = function() called = true; return "t" end })
    assert.equal("usage", err.kind)
    assert.matches("token", err.text)
    assert.is_false(called)
  end)

  it("uses SCRAM over plaintext with allow_plaintext", function()
    local lines, trace = recorder()
    local imap = server.connect{ tls = "none", port = server.imap_port,
      allow_plaintext = true, trace = trace }
    assert.equal(1, count(lines, "^C: A1 AUTHENTICATE SCRAM%-SHA%-256 "))
    assert_no_secret(lines)
    assert_logged_in(imap)
  end)
end)
