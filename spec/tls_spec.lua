-- spec/tls_spec.lua: the three TLS modes against the private Dovecot:
-- implicit TLS with certificate and host name verification, mandatory
-- STARTTLS on the plain port, and plaintext that never carries a password
-- unless asked to.

local imapsift = require "imapsift"
local server = require "support.server"

local util = require "support.util"
local catch = util.catch

local recorder = util.recorder

local count = util.count

-- Position of the first line matching pattern (or nil).
local function index(lines, pattern)
  for i, l in ipairs(lines) do if l:find(pattern) then return i end end
end

describe("implicit TLS", function()
  it("connects and logs in when the certificate verifies with ca_file",
      function()
    local imap = server.connect()
    assert.equal("AUTH", imap:state())
    assert.is_true(imap.capabilities.IMAP4REV1)
    assert.equal("integer", math.type(imap:select("INBOX").exists))
    imap:logout()
  end)

  it("verifies the host name 'localhost' against the certificate",
      function()
    local imap = server.connect{ host = "localhost" }
    assert.equal("AUTH", imap:state())
    imap:logout()
  end)

  it("fails with kind tls against the system store alone", function()
    local err = catch(server.connect, { ca_file = server.UNSET })
    assert.equal("tls", err.kind)
    assert.matches("verif", err.text)
    assert.matches("connect to " .. server.host .. ":" .. server.imaps_port,
      err.command, 1, true)
    assert.matches("^connect to .* failed: %(tls%) ", tostring(err))
  end)

  it("fails with kind tls when the name does not match", function()
    local err = catch(server.connect, { servername = "wrong.example" })
    assert.equal("tls", err.kind)
    assert.matches("wrong.example", err.text, 1, true)
    assert.matches("mismatch", err.text)
  end)

  it("connects without verification only when verify = false", function()
    -- No CA and a wrong name: only verify = false lets this through
    -- (it also writes a warning to stderr).
    local imap = server.connect{ ca_file = server.UNSET,
      servername = "wrong.example", verify = false }
    assert.equal("AUTH", imap:state())
    imap:select("INBOX")
    imap:logout()
  end)

  it("warns on stderr when verification is off", function()
    -- Run in a child process to see its stderr.
    local script = ([[
      package.path = %q
      package.cpath = %q
      local server = require "support.server"
      local imap = server.connect{ ca_file = server.UNSET, verify = false }
      io.stdout:write("state ", imap:state(), "\n")
      imap:logout()
    ]]):format(package.path, package.cpath)
    local f = assert(io.popen("lua5.4 -e '" .. script:gsub("'", "'\\''")
      .. "' 2>&1"))
    local out = f:read("a")
    assert.is_true(f:close(), out)
    assert.matches("warning: TLS certificate verification is disabled for "
      .. server.host, out, 1, true)
    assert.matches("state AUTH", out, 1, true)
  end)

  it("fails with kind tls when the server speaks plaintext", function()
    local err = catch(server.connect, { port = server.imap_port })
    assert.equal("tls", err.kind)
  end)

  it("does not hang when the server waits for TLS that never comes",
      function()
    -- STARTTLS mode on the implicit-TLS port: both sides wait, until the
    -- client's timeout.
    local t0 = os.time()
    local err = catch(server.connect, { tls = "starttls", timeout = 1 })
    assert.equal("timeout", err.kind)
    assert.is_true(os.time() - t0 <= 5)
  end)
end)

describe("STARTTLS", function()
  it("upgrades, re-reads the capabilities and then logs in", function()
    local lines, trace = recorder()
    local imap = server.connect{ tls = "starttls", port = server.imap_port,
      auth = "LOGIN-COMMAND", trace = trace }
    assert.equal("AUTH", imap:state())
    -- The plaintext greeting offered STARTTLS ...
    assert.equal(1, count(lines, "^S: %* OK %[CAPABILITY .*STARTTLS"))
    -- ... then STARTTLS, a fresh CAPABILITY, and only then LOGIN.
    local st = index(lines, "^C: %S+ STARTTLS$")
    local cap = index(lines, "^C: %S+ CAPABILITY$")
    local login = index(lines, "^C: %S+ LOGIN ")
    assert.is_truthy(st and cap and login)
    assert.is_true(st < cap and cap < login)
    assert.is_nil(imap.capabilities.STARTTLS)
    assert.is_true(imap.capabilities.MOVE) -- post-login capabilities
    assert.equal(0, count(lines, server.password))
    imap:select("INBOX")
    imap:logout()
  end)

  it("forgets what it learned before TLS", function()
    local imap = server.connect_anonymous{ tls = "starttls",
      port = server.imap_port }
    assert.equal("NONAUTH", imap:state())
    assert.is_nil(imap.capabilities.STARTTLS)
    assert.is_true(imap.capabilities["AUTH=PLAIN"])
    -- Only the CAPABILITY response read after TLS is kept.
    local caps = imap:response("CAPABILITY")
    assert.equal(1, #caps)
    for _, c in ipairs(caps[1].caps) do assert.not_equal("STARTTLS", c) end
    imap:login(server.user, server.password)
    assert.equal("AUTH", imap:state())
    imap:logout()
  end)

  it("verifies the certificate after STARTTLS too", function()
    local lines, trace = recorder()
    local err = catch(server.connect, { tls = "starttls",
      port = server.imap_port, servername = "wrong.example", trace = trace })
    assert.equal("tls", err.kind)
    assert.matches("mismatch", err.text)
    assert.equal(0, count(lines, "^C: %S+ LOGIN"))
  end)
end)

describe("plaintext", function()
  it("refuses to send a password without allow_plaintext", function()
    local lines, trace = recorder()
    local err = catch(server.connect, { tls = "none",
      port = server.imap_port, trace = trace })
    assert.equal("usage", err.kind)
    assert.matches("plaintext", err.text)
    assert.equal(0, count(lines, "^C: "))
    assert.equal(0, count(lines, "^C: .*LOGIN"))
    assert.equal(1, count(lines, "^S: %* OK"))
  end)

  it("refuses login() on a plaintext connection as well", function()
    local lines, trace = recorder()
    local imap = server.connect_anonymous{ tls = "none",
      port = server.imap_port, trace = trace }
    local err = catch(imap.login, imap, server.user, server.password)
    assert.equal("usage", err.kind)
    assert.matches("plaintext", tostring(err))
    assert.equal(0, count(lines, "^C: .*LOGIN"))
    imap:logout()
  end)

  it("logs in when allow_plaintext = true", function()
    local lines, trace = recorder()
    local imap = server.connect{ tls = "none", port = server.imap_port,
      allow_plaintext = true, auth = "LOGIN-COMMAND", trace = trace }
    assert.equal("AUTH", imap:state())
    assert.equal(1, count(lines, "^C: %S+ LOGIN alice "))
    assert.equal(0, count(lines, server.password))
    imap:select("INBOX")
    imap:logout()
  end)

  it("rejects an unknown tls mode", function()
    local ok, err = pcall(imapsift.connect, { host = server.host,
      port = server.imap_port, tls = "maybe" })
    assert.is_false(ok)
    assert.matches("tls must be", tostring(err))
  end)
end)
