-- Specs for the host executable itself (c/main.c): it hands argv to
-- imapsift.cli and exits with the status cli.main returns, and it sets
-- up the process (SIGPIPE ignored) before any script runs.
local build = assert(os.getenv("IMAPSIFT_BUILD"),
  "IMAPSIFT_BUILD must name the build directory (ctest sets it)")
local host = build .. "/imapsift"

-- run(args) -> exit status, stdout (stderr is discarded).
local function run(args)
  local out = os.tmpname()
  local _, _, code = os.execute(("%q %s >%q 2>/dev/null"):format(host, args,
    out))
  local f = assert(io.open(out))
  local text = f:read("a")
  f:close()
  os.remove(out)
  return code, text
end

describe("the imapsift host", function()
  it("exits with the status the command returns", function()
    assert.equal(0, (run("--version")))
    assert.equal(2, (run("--no-such-option")))
    assert.equal(1, (run("-e 'error(\"boom\")'")))
  end)

  it("passes the arguments after the program name", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('print(select("#", ...), ...)\n')
    f:close()
    local code, text = run(("%q 'a b' c"):format(path))
    os.remove(path)
    assert.equal(0, code)
    assert.equal("2\ta b\tc\n", text)
  end)

  it("ignores SIGPIPE, so a closed output is an error, not a death",
    function()
      local code, text = run([[-e 'for l in io.lines("/proc/self/status") do
        local m = l:match("^SigIgn:%s*(%x+)")
        if m then print(tonumber(m, 16) >> 12 & 1) end
      end']])
      assert.equal(0, code)
      assert.equal("1\n", text)
    end)

  it("gives a password command the default SIGPIPE action back",
    function()
      local code, text = run([[-e 'local core = require "imapsift.core"
        local out = core.run_command("grep SigIgn /proc/self/status", 10,
          4096)
        print(tonumber(out:match("SigIgn:%s*(%x+)"), 16) >> 12 & 1)']])
      assert.equal(0, code)
      assert.equal("0\n", text)
    end)
end)
