-- spec/compress_spec.lua: imap:compress() (COMPRESS=DEFLATE, RFC 4978)
-- and the explicit imap:starttls() against the private Dovecot, and the
-- cases a real server will not produce against the scripted fake server
-- (which "compresses" with stored deflate blocks, RFC 1951 3.2.4).

local server = require "support.server"
local fake = require "support.fake"
local util = require "support.util"

local USER = server.as(6) -- heidi
local catch = util.catch

local recorder = util.recorder

local count = util.count

local function index(lines, pattern, from)
  for i = from or 1, #lines do
    if lines[i]:find(pattern) then return i end
  end
end

-- A message of about size bytes whose body is varied enough that
-- compression has real work to do.
local function big_message(size, subject)
  local rnd = 12345
  local lines, n = {}, 0
  while n < size do
    rnd = (rnd * 1103515245 + 12345) % 2147483648
    local line = ("line %07d %08x %s"):format(#lines, rnd,
      ("abcdefghij"):rep(rnd % 7))
    lines[#lines + 1] = line
    n = n + #line + 2
  end
  return server.message{ subject = subject,
    body = table.concat(lines, "\r\n") .. "\r\n" }
end

describe("compress against Dovecot", function()
  local imap

  before_each(function() server.reset() end)
  after_each(function()
    if imap then imap:shutdown() end
    imap = nil
  end)

  it("carries a 1 MB message byte-exact both ways over TLS", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    assert.equal("heidi", USER)
    assert.is_true(imap.capabilities["COMPRESS=DEFLATE"])
    assert.is_true(imap:compress())
    assert.is_true(imap.compressing)
    imap:select("INBOX")
    local msg = big_message(1024 * 1024, "compressed big one")
    assert.is_true(#msg >= 1024 * 1024)
    local r = imap:append("INBOX", msg)
    assert.same({ r.uid }, imap:search{ "SUBJECT", "compressed big one" })
    local m = imap:fetch(r.uid, { "BODY.PEEK[]", "RFC822.SIZE" })[1]
    assert.equal(#msg, m.size)
    assert.is_true(m.body[""] == msg, "the message came back altered")
    -- The trace still shows the plain protocol after COMPRESS.
    local c = index(lines, "^C: %S+ COMPRESS DEFLATE$")
    assert.is_truthy(c)
    assert.is_truthy(index(lines, "^S: %S+ OK Begin compression", c))
    assert.is_truthy(index(lines, "^C: %S+ SELECT INBOX$", c))
    assert.is_truthy(index(lines, "^S: %* 1 EXISTS$", c))
    assert.is_truthy(index(lines, "^C: %S+ UID SEARCH ", c))
    assert.is_truthy(index(lines, "^C: %S+ UID FETCH ", c))
    imap:logout()
  end)

  it("keeps the link usable across read timeouts (IDLE)", function()
    imap = server.connect()
    imap:compress()
    imap:select("INBOX")
    assert.equal("timeout", imap:idle(0.3, function() end))
    assert.equal("timeout", imap:idle(0.3, function() end))
    assert.same({}, imap:search{ "ALL" })
    imap:logout()
  end)

  it("compresses a plaintext link too", function()
    imap = server.connect{ tls = "none", port = server.imap_port,
      allow_plaintext = true }
    imap:compress()
    imap:select("INBOX")
    server.append(imap, "INBOX", { { subject = "plain and small" } })
    assert.equal(1, #imap:search{ "SUBJECT", "plain and small" })
    imap:logout()
  end)

  it("refuses to compress twice (usage), the link still works", function()
    local lines, trace = recorder()
    imap = server.connect{ trace = trace }
    imap:compress()
    local err = catch(imap.compress, imap)
    assert.equal("usage", err.kind)
    assert.matches("already", err.text)
    assert.equal(1, count(lines, "^C: %S+ COMPRESS"))
    assert.same({}, imap:noop())
    imap:logout()
  end)

  it("refuses when the server does not offer it (before login)",
      function()
    local lines, trace = recorder()
    imap = server.connect_anonymous{ trace = trace }
    assert.is_nil(imap.capabilities["COMPRESS=DEFLATE"])
    local err = catch(imap.compress, imap)
    assert.equal("usage", err.kind)
    assert.matches("COMPRESS=DEFLATE", err.text)
    assert.equal(0, count(lines, "^C: %S+ COMPRESS"))
  end)
end)

describe("explicit starttls against Dovecot", function()
  local imap

  after_each(function()
    if imap then imap:shutdown() end
    imap = nil
  end)

  it("upgrades a tls = \"none\" link, then LOGIN is allowed", function()
    local lines, trace = recorder()
    imap = server.connect_anonymous{ tls = "none", port = server.imap_port,
      trace = trace }
    assert.is_false(imap:secure())
    assert.is_true(imap.capabilities.STARTTLS)
    -- Before the upgrade a password must not go out.
    assert.equal("usage", catch(imap.login, imap, server.user,
      server.password).kind)
    assert.is_true(imap:starttls())
    assert.is_true(imap:secure())
    assert.is_nil(imap.capabilities.STARTTLS) -- re-read after TLS
    imap:login(server.user, server.password)
    assert.equal("AUTH", imap:state())
    local st = index(lines, "^C: %S+ STARTTLS$")
    local cap = index(lines, "^C: %S+ CAPABILITY$", st)
    local login = index(lines, "^C: %S+ LOGIN ")
    assert.is_truthy(st and cap and login)
    assert.is_true(st < cap and cap < login)
    assert.equal(0, count(lines, server.password))
    -- And compression over the upgraded link.
    imap:compress()
    assert.equal("integer", math.type(imap:select("INBOX").exists))
    imap:logout()
  end)

  it("takes TLS options from its argument", function()
    imap = server.connect_anonymous{ tls = "none", port = server.imap_port,
      ca_file = server.UNSET }
    imap:starttls{ ca_file = server.ca, servername = "localhost" }
    imap:login(server.user, server.password)
    imap:logout()
  end)

  it("fails with kind tls when the name does not match", function()
    local _, trace = recorder()
    imap = server.connect_anonymous{ tls = "none", port = server.imap_port,
      trace = trace }
    local err = catch(imap.starttls, imap, { servername = "wrong.example" })
    assert.equal("tls", err.kind)
    assert.matches("mismatch", err.text)
    assert.equal("LOGOUT", imap:state()) -- no plaintext fallback
  end)

  it("is a usage error on a TLS link, after login or with bad options",
      function()
    imap = server.connect()
    assert.matches("already", catch(imap.starttls, imap).text)
    imap:shutdown()
    imap = server.connect_anonymous{ tls = "none", port = server.imap_port,
      allow_plaintext = true }
    assert.equal("usage", catch(imap.starttls, imap, { nope = 1 }).kind)
    assert.equal("usage", catch(imap.starttls, imap, "x").kind)
    imap:login(server.user, server.password)
    local err = catch(imap.starttls, imap)
    assert.equal("usage", err.kind)
    assert.matches("before logging in", err.text)
    assert.same({}, imap:noop())
  end)
end)

---------------------------------------------------------------------------

-- A raw deflate stored block holding data (not the final block).
local function stored(data)
  assert(#data <= 65535)
  return "\0" .. string.pack("<I2I2", #data, #data ~ 0xffff) .. data
end

describe("compress against the fake server", function()
  local session = fake.session()
  local function start(steps) return session:start(steps) end

  after_each(function() session:cleanup() end)

  local GREETING = { send =
    "* PREAUTH [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] hi\r\n" }

  it("inflates bytes that came with the OK before anything else",
      function()
    local imap = start{ GREETING,
      { recv = "^A1 COMPRESS DEFLATE\r\n$" },
      { send = "A1 OK DEFLATE active\r\n" .. stored("* 7 EXISTS\r\n") },
      { sleep = 0.2 },
      { send = stored("* 3 RECENT\r\nA2 OK done\r\n") },
      { drain = true } }
    imap:compress()
    -- Already received, inflated without touching the socket.
    assert.is_true(imap.conn:unread() > 0)
    local r = assert(imap.conn:read(1))
    assert.equal("EXISTS", r.type)
    assert.equal(7, r.n)
    -- A whole command round trip (the fake cannot read the compressed
    -- command, but answers it after a pause).
    imap:noop()
    -- RECENT only updates the mailbox: kept for response(), not per command.
    assert.equal(3, imap:response("RECENT")[1].n)
  end)

  it("sends COMPRESS DEFLATE and nothing else in plain", function()
    local imap, srv = start{ GREETING,
      { recv = "^A1 COMPRESS DEFLATE\r\n$" }, { reply = "OK go" },
      { drain = true } }
    imap:compress()
    imap.conn:write_line("A2 NOOP")
    imap:shutdown()
    local log = srv:log()
    assert.equal("A1 COMPRESS DEFLATE\r\n",
      log:sub(1, #"A1 COMPRESS DEFLATE\r\n"))
    assert.is_nil(log:find("NOOP", 1, true)) -- the rest is deflated
    assert.is_true(#log > #"A1 COMPRESS DEFLATE\r\n")
  end)

  it("raises kind protocol on corrupt compressed data", function()
    local imap = start{ GREETING,
      { recv = "^A1 COMPRESS DEFLATE\r\n$" },
      { send = "A1 OK go\r\n\7garbage" }, { drain = true } }
    imap:compress()
    local err = catch(imap.noop, imap)
    assert.equal("protocol", err.kind)
    assert.matches("inflate", err.text)
  end)

  it("stays uncompressed when COMPRESS is refused", function()
    local imap, srv = start{ GREETING,
      { recv = "^A1 COMPRESS DEFLATE\r\n$" },
      { reply = "NO [COMPRESSIONACTIVE] TLS compression is on" },
      { recv = "^A2 NOOP\r\n$" }, { reply = "OK" }, { drain = true } }
    local err = catch(imap.compress, imap)
    assert.equal("no", err.kind)
    assert.equal("COMPRESSIONACTIVE", err.code)
    assert.is_nil(imap.compressing)
    imap:noop()
    imap:shutdown()
    assert.equal("A1 COMPRESS DEFLATE\r\nA2 NOOP\r\n", srv:log())
  end)

  it("refuses STARTTLS after COMPRESS", function()
    local imap, srv = start{
      { send = "* OK [CAPABILITY IMAP4rev1 STARTTLS COMPRESS=DEFLATE] hi\r\n" },
      { recv = "^A1 COMPRESS DEFLATE\r\n$" }, { reply = "OK go" },
      { drain = true } }
    imap:compress()
    local err = catch(imap.starttls, imap)
    assert.equal("usage", err.kind)
    assert.matches("COMPRESS", err.text)
    imap:shutdown()
    assert.equal("A1 COMPRESS DEFLATE\r\n", srv:log())
  end)
end)
