-- spec/host_run_spec.lua: single runs of the imapsift command as a user
-- runs it: options, exit codes, the default script, dry runs and plans,
-- the log (text, file, JSON, levels), traces, --check, an account that
-- is down, and incremental state. Mail is checked over a direct
-- connection to the private Dovecot, as spare user 14.
local cjson = require "cjson"
local core = require "imapsift.core"
local host = require "support.host"
local server = require "support.server"

server.as(14)
host.lock_user() -- also against runs outside ctest

local MOVE, messages, put = host.MOVE, host.messages, host.put

local function lines_with(text, plain)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if line:find(plain, 1, true) then out[#out + 1] = line end
  end
  return out
end

describe("imapsift, one run at a time", function()
  local dir

  before_each(function()
    dir = host.home()
  end)

  after_each(function()
    host.cleanup(dir)
  end)

  describe("without a server", function()
    it("-h prints usage naming every option, exit 0", function()
      local r = host.run(dir, { "-h" })
      assert.equal(0, r.code)
      for _, opt in ipairs{ "-n", "--dry-run", "--plan", "--check",
          "--every", "--watch", "-v", "--verbose", "-q", "--quiet",
          "--trace", "--log", "--log-format", "-e", "-V", "--version",
          "-h", "--help" } do
        assert.truthy(r.out:find(opt, 1, true), "help lacks " .. opt)
      end
      assert.same(r, host.run(dir, { "--help" }))
    end)

    it("-V names imapsift, Lua, OpenSSL and PCRE2", function()
      local r = host.run(dir, { "-V" })
      assert.equal(0, r.code)
      assert.matches("^imapsift 0%.1%.0\n", r.out)
      assert.matches("\nLua 5%.4", r.out)
      assert.matches("\nOpenSSL ", r.out)
      assert.matches("\nPCRE2 ", r.out)
      assert.equal(r.out, host.run(dir, { "--version" }).out)
    end)

    it("refuses an unknown option with exit 2 and a usage line", function()
      local r = host.run(dir, { "--bogus-option" })
      assert.equal(2, r.code)
      assert.truthy(r.err:find("--bogus-option", 1, true), r.err)
      assert.matches("[Uu]sage", r.err)
      assert.equal("", r.out)
    end)

    it("refuses a missing script with exit 2", function()
      assert.equal(2, host.run(dir, { dir .. "/nowhere.lua" }).code)
      -- no argument and no default script either
      assert.equal(2, host.run(dir, {}).code)
    end)

    it("runs $XDG_CONFIG_HOME/imapsift/rules.lua by default", function()
      host.write(dir .. "/config/imapsift/rules.lua",
        'print("default rules ran", arg[0] ~= nil, select("#", ...))\n')
      local r = host.run(dir, {})
      assert.equal(0, r.code, r.err)
      assert.equal("default rules ran\ttrue\t0\n", r.out)
    end)

    it("passes ARGS to the script as arg and ...", function()
      local path = host.write(dir .. "/args.lua",
        'print(arg[0], arg[1], arg[2], select("#", ...), ...)\n')
      local r = host.run(dir, { path, "one", "two" })
      assert.equal(0, r.code, r.err)
      assert.equal(path .. "\tone\ttwo\t2\tone\ttwo\n", r.out)
    end)

    it("falls back to ~/.config/imapsift/rules.lua", function()
      host.write(dir .. "/config/imapsift/rules.lua", 'print("xdg")\n')
      os.execute("mkdir -p " .. host.q(dir .. "/home/.config/imapsift"))
      host.write(dir .. "/home/.config/imapsift/rules.lua",
        'print("home")\n')
      local r = host.run(dir, {}, { XDG_CONFIG_HOME = false })
      assert.equal(0, r.code, r.err)
      assert.equal("home\n", r.out)
      r = host.run(dir, {}, { XDG_CONFIG_HOME = "" })
      assert.equal(0, r.code, r.err)
      assert.equal("home\n", r.out)
    end)

    it("-e CHUNK alone runs the chunk and no default script", function()
      host.write(dir .. "/config/imapsift/rules.lua",
        'print("default rules ran")\n')
      local r = host.run(dir, { "-e", 'print("chunk ran")' })
      assert.equal(0, r.code, r.err)
      assert.equal("chunk ran\n", r.out)
    end)

    it("runs -e chunks in order before the script; -- ends options",
        function()
      local path = host.write(dir .. "/order.lua", 'print("script", ...)\n')
      local r = host.run(dir, { "-e", 'print("first")', "-e",
        'print("second")', "--", path, "-n" })
      assert.equal(0, r.code, r.err)
      assert.equal("first\nsecond\nscript\t-n\n", r.out)
    end)

    it("refuses a bad --every duration with exit 2", function()
      local path = host.write(dir .. "/quiet.lua", "\n")
      local r = host.run(dir, { "--every", "soon", path })
      assert.equal(2, r.code)
      assert.matches("[Uu]sage", r.err)
    end)

    it("exits 1 for a runtime error in the script", function()
      local path = host.write(dir .. "/boom.lua",
        'error("e2e runtime boom")\n')
      local r = host.run(dir, { path })
      assert.equal(1, r.code)
      assert.truthy(r.err:find("e2e runtime boom", 1, true), r.err)
    end)

    it("exits 1 for a script that does not compile, also with --check",
        function()
      local path = host.write(dir .. "/bad.lua", "this is not lua\n")
      for _, args in ipairs{ { path }, { "--check", path } } do
        local r = host.run(dir, args)
        assert.equal(1, r.code, r.out .. r.err)
        assert.truthy(r.err:find("bad.lua", 1, true), r.err)
      end
    end)

    it("exits 1 when a rule fails, naming the rule", function()
      local path = host.write(dir .. "/rule.lua", 'require("imapsift")' ..
        '.rule("breaks", function() error("e2e rule boom") end)\n')
      local r = host.run(dir, { path })
      assert.equal(1, r.code)
      assert.equal(1, #lines_with(r.err, "e2e rule boom"), r.err)
      assert.truthy(lines_with(r.err, "e2e rule boom")[1]:find("breaks",
        1, true), r.err)
    end)
  end)

  describe("against the test server", function()
    before_each(function()
      server.reset()
    end)

    it("-n prints the plan on stdout and changes nothing", function()
      put{ { subject = "move me" } }
      local r = host.run(dir, { "-n", host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      assert.equal(1, #lines_with(r.out,
        "[mover] e2e: would move 1 message INBOX -> Done"), r.out)
      assert.equal(0, #lines_with(r.err, "would move"), r.err)
      assert.equal(1, messages("INBOX"))
      assert.is_nil(messages("Done"))
    end)

    it("--plan FILE writes the plan as JSON", function()
      put{ { subject = "move me" }, { subject = "keep me" } }
      local file = dir .. "/plan.json"
      local r = host.run(dir, { "-n", "--plan", file, host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      local plan = cjson.decode((assert(host.read(file), "no plan file")))
      assert.is_true(plan.dry_run)
      assert.equal(1, #plan.entries)
      local e = plan.entries[1]
      assert.same({ "move", 1, "INBOX", "Done", "mover" },
        { e.action, e.count, e.mailbox, e.destination, e.rule })
      assert.equal("table", type(plan.summary))
      assert.equal(2, messages("INBOX"))
    end)

    it("logs one line per action and a summary, also to --log FILE",
        function()
      put{ { subject = "move me", message_id = "<e2e-plain@example.org>" },
        { subject = "flag me" } }
      local log = dir .. "/run.log"
      local r = host.run(dir, { "--log", log, host.script(dir, MOVE .. [[
imapsift.rule("flagger", function()
  acct.INBOX:search{ subject = "flag me" }:flag("\\Flagged")
end)
]]) })
      assert.equal(0, r.code, r.err)
      local moved = "[mover] e2e: moved 1 message INBOX -> Done"
      local flagged = "[flagger] e2e: flagged 1 message INBOX"
      assert.equal(1, #lines_with(r.err, moved), r.err)
      assert.equal(1, #lines_with(r.err, flagged), r.err)
      local summary = lines_with(r.err, "run finished: ")
      assert.equal(1, #summary, r.err)
      assert.matches("run finished: %d+ examined, 1 moved, 0 copied, " ..
        "0 deleted, 1 flagged, 0 errors in [%d.]+ s", summary[1])
      assert.equal(0, #lines_with(r.err, "<e2e-plain@example.org>"))
      for line in r.err:gmatch("[^\n]+") do
        assert.matches("^imapsift: ", line)
      end
      local text = assert(host.read(log), "no log file")
      for _, want in ipairs{ moved, flagged, "run finished: " } do
        local got = lines_with(text, want)
        assert.equal(1, #got, text)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d", got[1])
      end
      assert.equal(1, messages("INBOX"))
      assert.equal(1, messages("Done"))
      -- the log file is appended to, never replaced
      r = host.run(dir, { "--log", log, host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      text = host.read(log)
      assert.equal(2, #lines_with(text, "run finished: "), text)
      assert.equal(1, #lines_with(text, moved), text)
    end)

    it("--log-format json writes one JSON object per line", function()
      put{ { subject = "move me" } }
      local r = host.run(dir, { "--log-format", "json",
        host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      local action, finished = nil, false
      for line in r.err:gmatch("[^\n]+") do
        local ok, obj = pcall(cjson.decode, line)
        assert.is_true(ok and type(obj) == "table", line)
        assert.equal("string", type(obj.event), line)
        if obj.event == "action" then action = obj end
        for _, v in pairs(obj) do
          if type(v) == "string" and v:find("run finished:", 1, true) then
            finished = true
          end
        end
      end
      assert.is_table(action, r.err)
      assert.same({ "move", "mover", "e2e", "Done" }, { action.action,
        action.rule, action.account, action.destination })
      assert.is_true(finished, r.err)
      -- the same again with the =value spelling
      put{ { subject = "move me" } }
      r = host.run(dir, { "--log-format=json", host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      assert.is_true(pcall(cjson.decode, r.err:match("[^\n]+")), r.err)
    end)

    it("-v adds the Message-IDs to action lines", function()
      put{ { subject = "move me", message_id = "<e2e-verbose@example.org>" } }
      local r = host.run(dir, { "-v", host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      local moved = lines_with(r.err, "[mover] e2e: moved 1 message")
      assert.equal(1, #moved, r.err)
      assert.truthy(moved[1]:find("<e2e-verbose@example.org>", 1, true),
        r.err)
    end)

    it("-q prints no action lines and no summary", function()
      put{ { subject = "move me" } }
      local r = host.run(dir, { "-q", host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      assert.equal(0, #lines_with(r.err, "moved 1 message"), r.err)
      assert.equal(0, #lines_with(r.err, "run finished"), r.err)
      assert.equal(1, messages("Done"))
    end)

    it("--trace FILE records the protocol but never the password",
        function()
      put{ { subject = "move me" } }
      local trace = dir .. "/trace.txt"
      local r = host.run(dir, { "--trace", trace, host.script(dir, MOVE) })
      assert.equal(0, r.code, r.err)
      local text = assert(host.read(trace), "no trace file")
      local p = io.popen("stat -c %a " .. host.q(trace))
      assert.equal("600", p:read("l"))
      p:close()
      assert.matches("CAPABILITY", text)
      assert.matches("UID MOVE", text)
      assert.matches("LOGOUT", text)
      local pw, user = server.password, server.user
      for _, secret in ipairs{ pw, core.base64_encode("\0" .. user .. "\0"
          .. pw), core.base64_encode(user .. "\0" .. user .. "\0" .. pw) } do
        assert.is_nil(text:find(secret, 1, true), "trace shows a secret")
      end
    end)

    describe("--check", function()
      it("exits 0 for a good script and changes nothing", function()
        put{ { subject = "move me" } }
        local r = host.run(dir, { "--check", host.script(dir, MOVE) })
        assert.equal(0, r.code, r.out .. r.err)
        assert.equal(1, messages("INBOX"))
        assert.is_nil(messages("Done"))
      end)

      it("lists a missing source mailbox and exits 1", function()
        local r = host.run(dir, { "--check", host.script(dir, [[
imapsift.rule("missing", function()
  acct["E2E-Missing"]:search{}:move_to("Done")
end)
]]) })
        assert.equal(1, r.code, r.out .. r.err)
        assert.truthy((r.out .. r.err):find("E2E-Missing", 1, true),
          r.out .. r.err)
      end)

      it("exits 3 for an account on a closed port", function()
        local r = host.run(dir, { "--check", host.script(dir, MOVE,
          { port = 1 }) })
        assert.equal(3, r.code, r.out .. r.err)
      end)

      it("exits 3 for a wrong password", function()
        local r = host.run(dir, { "--check", host.script(dir, MOVE,
          { password = "not-" .. server.password }) })
        assert.equal(3, r.code, r.out .. r.err)
      end)

      it("exits 4 when the server's certificate does not verify",
          function()
        local r = host.run(dir, { "--check", host.script(dir, MOVE,
          { ca_file = false }) })
        assert.equal(4, r.code, r.out .. r.err)
      end)
    end)

    it("ranks a TLS failure above a refused connection: exit 4",
        function()
      local r = host.run(dir, { host.script(dir, [[
local down = ]] .. host.account{ name = "down", port = 1 } .. [[

imapsift.rule("down-rule", function() down.INBOX:search{}:flag("\\Seen") end)
imapsift.rule("tls-rule", function() acct.INBOX:search{}:flag("\\Seen") end)
]], { ca_file = false }) })
      assert.equal(4, r.code, r.err)
    end)

    it("runs the rules of the account that is up, exit 3", function()
      put{ { subject = "move me" } }
      local r = host.run(dir, { host.script(dir, [[
local down = ]] .. host.account{ name = "down", port = 1 } .. [[

imapsift.rule("down-rule", function()
  down.INBOX:search{ subject = "move me" }:move_to("Done")
end)
]] .. MOVE) })
      assert.equal(3, r.code, r.err)
      assert.equal(1, #lines_with(r.err,
        "[mover] e2e: moved 1 message INBOX -> Done"), r.err)
      assert.truthy(#lines_with(r.err, "down") >= 1, r.err)
      assert.equal(0, messages("INBOX"))
      assert.equal(1, messages("Done"))
    end)

    it("keeps state: a second run of inbox:new() finds only new mail",
        function()
      put{ { subject = "one" }, { subject = "two" } }
      local script = host.script(dir, [[
imapsift.rule("fresh", function()
  print("new: " .. #acct.INBOX:new())
end)
]])
      local r = host.run(dir, { script })
      assert.equal(0, r.code, r.err)
      assert.equal("new: 2\n", r.out)
      local p = io.popen("find " .. host.q(dir .. "/state/imapsift")
        .. " -type f -name '*.state'")
      local files = p:read("a")
      p:close()
      assert.equal(1, host.count(files, ".state"), files)
      r = host.run(dir, { script })
      assert.equal(0, r.code, r.err)
      assert.equal("new: 0\n", r.out)
      put{ { subject = "three" } }
      r = host.run(dir, { script })
      assert.equal(0, r.code, r.err)
      assert.equal("new: 1\n", r.out)
    end)

    it("keeps no state from a dry run, a --check or a failed rule",
        function()
      put{ { subject = "one" }, { subject = "two" } }
      local fresh = [[
imapsift.rule("fresh", function()
  print("new: " .. #acct.INBOX:new())
end)
]]
      local failing = host.script(dir, [[
imapsift.rule("fails", function()
  print("new: " .. #acct.INBOX:new())
  error("e2e after new")
end)
]], nil, "failing.lua")
      local script = host.script(dir, fresh)
      for _, args in ipairs{ { "-n", script }, { "--check", script },
          { failing } } do
        local r = host.run(dir, args)
        assert.equal(args[1] == failing and 1 or 0, r.code, r.err)
      end
      local r = host.run(dir, { script })
      assert.equal(0, r.code, r.err)
      assert.equal("new: 2\n", r.out)
    end)
  end)
end)
