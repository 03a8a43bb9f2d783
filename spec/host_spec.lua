-- Specs for the imapsift host binary: it runs a script like lua5.4 does
-- (arg table, traceback, exit status) with the imapsift module built in.
local build = assert(os.getenv("IMAPSIFT_BUILD"),
  "IMAPSIFT_BUILD must name the build directory (ctest sets it)")
local host = build .. "/imapsift"

local function run(script_text, args)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script_text)
  f:close()
  local out = os.tmpname()
  local cmd = ("%q %q %s >%q 2>&1"):format(host, path, args or "", out)
  local _, _, code = os.execute(cmd)
  local text = assert(io.open(out)):read("a")
  os.remove(path)
  os.remove(out)
  return code, text
end

describe("the imapsift host", function()
  it("runs a script with arg and the built-in module", function()
    local code, text = run([[
      local imapsift = require "imapsift"
      print(arg[0] ~= nil, arg[1], arg[2], select("#", ...))
      print(imapsift.set.compress{ 3, 1, 2 })
      print(imapsift.mutf7.encode("Entwürfe"))
    ]], "one two")
    assert.equal(0, code)
    assert.equal("true\tone\ttwo\t2\n1:3\nEntw&APw-rfe\n", text)
  end)

  it("exits non-zero with a traceback on error", function()
    local code, text = run([[
      local function inner() error("rule failed") end
      inner()
    ]])
    assert.equal(1, code)
    assert.matches("rule failed", text)
    assert.matches("stack traceback", text)
  end)

  it("prints structured errors readably", function()
    local code, text = run([[
      local errors = require "imapsift.error"
      errors.raise{ kind = "no", command = "SELECT \"X\"", text = "nope" }
    ]])
    assert.equal(1, code)
    assert.matches('SELECT "X" failed: NO nope', text, 1, true)
  end)

  it("reports a script that does not load", function()
    local code, text = run("this is not lua")
    assert.equal(1, code)
    assert.matches("syntax error", text)
  end)

  it("logs out the rules layer's accounts when the script ends, even when it fails",
      function()
    local fake = require "support.fake"
    for _, failing in ipairs{ false, true } do
      local srv = fake.new{ { send = "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n" },
        { recv = "^A1 NOOP" }, { reply = "OK" },
        { recv = "^A2 LOGOUT" }, { send = "* BYE bye\r\n" }, { reply = "OK" } }
      local code = run(([[
        local imapsift = require "imapsift"
        local acct = imapsift.account{ command = %q, secure = true }
        acct:conn():noop()
        if %s then error("rule failed") end
      ]]):format(srv:command(), tostring(failing)))
      assert.equal(failing and 1 or 0, code)
      assert.equal("A1 NOOP\r\nA2 LOGOUT\r\n", srv:log())
      srv:cleanup()
    end
  end)

  it("answers --version and refuses a missing script", function()
    local p = io.popen(("%q --version"):format(host))
    assert.matches("^imapsift %d+%.%d+%.%d+", p:read("a"))
    p:close()
    local _, _, code = os.execute(("%q >/dev/null 2>&1"):format(host))
    assert.equal(2, code)
  end)
  it("finds its Lua layer after cmake --install, away from the checkout", function()
    local prefix = os.tmpname()
    os.remove(prefix)
    local log = os.tmpname()
    assert.is_true(os.execute(("cmake --install %q --prefix %q >%q 2>&1")
      :format(build, prefix, log)), assert(io.open(log)):read("a"))
    local script = prefix .. "/probe.lua"
    local f = assert(io.open(script, "w"))
    f:write('local i = require "imapsift"\n' ..
      'print(package.searchpath("imapsift", package.path))\n' ..
      'print(i.set.compress{ 2, 1 })\n')
    f:close()
    local p = io.popen(("cd / && %q %q 2>&1"):format(prefix .. "/bin/imapsift", script))
    local out = p:read("a")
    local ok = p:close()
    os.execute(("rm -rf %q %q"):format(prefix, log))
    assert.is_true(ok, out)
    assert.equal(prefix .. "/bin/../share/imapsift/lua/imapsift/init.lua\n1:2\n", out)
  end)
end)
