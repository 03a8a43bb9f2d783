-- spec/fake_parallel_spec.lua: parallel reads (parallel.lua) against a
-- scripted server that Dovecot cannot play: one that refuses a second
-- login, and one that cuts an extra connection in the middle of a FETCH.

local imapsift = require "imapsift"
local fake = require "support.fake"
local parallel = require "imapsift.parallel"

local N = 30

-- The fake's answer to every command; logins are counted in a file
-- shared by the fake's processes (one per connection). mode "refuse":
-- every login after the first is refused; "cut": the second connection
-- hangs up halfway through its first FETCH; "reverse": every FETCH is
-- answered in descending UID order.
local SCRIPT = [[
local counter, mode, n = %q, %q, %d
local me
local function fetch(set, tag)
  local out = {}
  for a, b in set:gmatch("(%%d+):?(%%d*)") do
    for u = tonumber(a), tonumber(b ~= "" and b or a) do
      local h = ("Subject: m%%d\r\n\r\n"):format(u)
      out[#out + 1] = ("* %%d FETCH (UID %%d BODY[HEADER.FIELDS (SUBJECT)]" ..
        " {%%d}\r\n%%s)\r\n"):format(u, u, #h, h)
    end
  end
  if mode == "reverse" then -- RFC 9051 does not promise UID order
    for k = 1, #out // 2 do out[k], out[#out - k + 1] = out[#out - k + 1], out[k] end
  end
  if mode == "cut" and me == 2 then
    io.stdout:write(out[1], "* 9 FETCH (UID 9 BODY[HEADER.FIELDS {40}\r\nSub")
    io.stdout:flush()
    os.exit(0)
  end
  return table.concat(out) .. tag .. " OK done\r\n"
end
return function(cmd, tag)
  if cmd:find("^%%S+ LOGIN") then
    local f = io.open(counter, "r")
    me = (f and tonumber(f:read("a")) or 0) + 1
    if f then f:close() end
    f = io.open(counter, "w"); f:write(me); f:close()
    if mode == "refuse" and me > 1 then
      return tag .. " NO [LIMIT] too many connections\r\n"
    end
  elseif cmd:find("^%%S+ SELECT") or cmd:find("^%%S+ EXAMINE") then
    local ro = cmd:find("EXAMINE") and "READ-ONLY" or "READ-WRITE"
    return ("* %%d EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"):format(n) ..
      tag .. " OK [" .. ro .. "] done\r\n"
  elseif cmd:find("^%%S+ UID SEARCH") then
    local l = {}
    for i = 1, n do l[i] = i end
    return "* SEARCH " .. table.concat(l, " ") .. "\r\n" .. tag .. " OK done\r\n"
  elseif cmd:find("^%%S+ UID FETCH") then
    return fetch(cmd:match("UID FETCH (%%S+)"), tag)
  elseif cmd:find("^%%S+ CAPABILITY") then
    return "* CAPABILITY IMAP4rev1\r\n" .. tag .. " OK done\r\n"
  elseif cmd:find("^%%S+ LOGOUT") then
    io.stdout:write("* BYE bye\r\n", tag, " OK done\r\n"); io.stdout:flush()
    os.exit(0)
  end
  return tag .. " OK done\r\n"
end
]]

describe("parallel reads on a scripted server", function()
  local chunk, servers, counter
  before_each(function()
    chunk, parallel.CHUNK = parallel.CHUNK, 5
    servers, counter = {}, os.tmpname()
  end)
  after_each(function()
    parallel.CHUNK = chunk
    for _, s in ipairs(servers) do s:cleanup() end
    os.remove(counter)
  end)

  local function read(mode)
    os.remove(counter)
    local srv = fake.new{ fake.greeting("IMAP4rev1"),
      { recv_all = ".", script = SCRIPT:format(counter, mode, N) } }
    servers[#servers + 1] = srv
    local acct = imapsift.account(srv:options{ user = "u", password = "p",
      parallel = 3, parallel_threshold = 5 })
    local got = {}
    for m in acct.INBOX:select_all():each{ "subject" } do
      got[#got + 1] = m.uid .. "=" .. m.subject
    end
    acct:logout()
    local f = io.open(counter); local logins = tonumber(f:read("a")); f:close()
    return got, logins
  end

  local function want()
    local w = {}
    for i = 1, N do w[i] = i .. "=m" .. i end
    return w
  end

  it("read on the main connection alone when a second login is refused",
    function()
      local got, logins = read("refuse")
      assert.same(want(), got)
      assert.equal(2, logins) -- the first refusal stops the opening
    end)

  it("give messages in UID order when a server answers out of order",
    function()
      local got, logins = read("reverse")
      assert.same(want(), got)
      assert.equal(3, logins)
    end)

  it("read a chunk again elsewhere when its connection is cut", function()
    local message = require "imapsift.message"
    local read_batch, on_main = message.read_batch, 0
    message.read_batch = function(...)
      on_main = on_main + 1
      return read_batch(...)
    end
    local ok, got, logins = pcall(read, "cut")
    message.read_batch = read_batch
    assert(ok, got)
    assert.same(want(), got)
    assert.equal(3, logins)
    -- the cut chunk (and the one queued behind it) went to the main
    -- connection; the third connection read the rest
    assert.is_true(on_main >= 1 and on_main < N // 5)
  end)
end)
