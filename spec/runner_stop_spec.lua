-- Specs for a single run that gets SIGTERM, in-process with the real
-- signal handlers: the rule in progress finishes, the rules after it are
-- skipped, and the exit code is 0. A file of its own: the stop it sets
-- is never cleared in this process.
local core = require "imapsift.core"
local cli = require "imapsift.cli"
local loop = require "imapsift.loop"
local log = require "imapsift.log"

describe("a single run that gets SIGTERM", function()
  it("finishes the rule in progress, skips the rest, exits 0", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local imapsift = require "imapsift"
      local core = require "imapsift.core"
      imapsift.rule("first", function()
        os.execute("kill -TERM " .. core.getpid())
        assert(core.wait(30) == "signal", "no signal came")
        rawset(_G, "runner_stop_first", "done")
      end)
      imapsift.rule("second", function()
        rawset(_G, "runner_stop_second", "ran")
      end)
    ]])
    f:close()
    local lines = {}
    local setup = log.setup
    log.setup = function(o)
      o.stderr = function(s) lines[#lines + 1] = s end
      return setup(o)
    end
    local ok, code = pcall(loop.main, assert(cli.parse{ script }))
    log.setup = setup
    log.reset()
    os.remove(script)
    assert.is_true(ok, tostring(code))
    assert.equal(0, code)
    assert.equal("TERM", core.stopping())
    assert.equal("done", rawget(_G, "runner_stop_first"))
    assert.is_nil(rawget(_G, "runner_stop_second"))
    assert.matches("%[second%] skipped: stopping", table.concat(lines))
  end)
end)
