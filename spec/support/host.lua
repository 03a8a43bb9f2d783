-- spec/support/host.lua: runs the imapsift binary as a subprocess for the
-- end-to-end specs: a private home (config, state and temp files) per
-- test, runs to completion with stdout, stderr and exit code captured,
-- and background runs that take signals, with bounded waits on files.
local core = require "imapsift.core"
local server = require "support.server"
local util = require "support.util"

local M = {}

M.bin = assert(os.getenv("IMAPSIFT_BUILD"),
  "IMAPSIFT_BUILD must name the build directory (ctest sets it)")
  .. "/imapsift"

-- Generous: a loaded machine must not turn a slow run into a failure.
M.TIMEOUT = 30

-- q(s) -> s quoted for sh.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok, "command failed: " .. cmd)
end

-- read(path) -> contents or nil; write(path, data) -> path.
M.read = util.read_file
function M.write(path, data)
  util.write_file(path, data)
  return path
end

-- A rule moving the messages whose subject says "move me" to Done.
M.MOVE = [[
imapsift.rule("mover", function()
  acct.INBOX:search{ subject = "move me" }:move_to("Done")
end)
]]

-- The server's view: number of messages in a mailbox (nil: no mailbox).
function M.messages(name)
  local c = server.connect()
  local ok, st = pcall(c.status, c, name, { "MESSAGES" })
  c:logout()
  return ok and st.messages or nil
end

-- put(list): appends server.message{} tables to INBOX.
function M.put(list)
  local c = server.connect()
  server.append(c, "INBOX", list)
  c:logout()
end

-- lock_user(): until this process ends, no other process that asks holds
-- the spare user the spec logs in as. ctest's resource locks serialize
-- spec files of one ctest run only; busted started by hand beside it
-- (or two build directories tested at once) would share the mailboxes.
-- A background flock holds the lock while this process lives, and names
-- it in an owner file, so that a second spec file in the same busted
-- process (which forgets loaded modules between files) does not wait on
-- its own lock.
function M.lock_user()
  local path = ("%s/imapsift-spec-%s.lock"):format(os.getenv("TMPDIR")
    or "/tmp", server.user)
  local owner, pid = path .. ".owner", tostring(core.getpid())
  if (M.read(owner) or ""):match("%d+") == pid then return end
  sh(("flock %s sh -c 'echo %s >%s; while kill -0 %s 2>/dev/null; " ..
    "do sleep 0.2; done; rm -f %s' </dev/null >/dev/null 2>&1 &"):format(
    M.q(path), pid, M.q(owner), pid, M.q(owner)))
  -- Another whole spec file may run first: wait as long as it might take.
  assert(M.wait_for(function()
    return (M.read(owner) or ""):match("%d+") == pid
  end, 900), "the lock on test user " .. server.user .. " was never free")
end

-- home() -> a fresh directory with config/, state/ and home/ in it;
-- cleanup(home) removes it.
function M.home()
  local p = io.popen("mktemp -d")
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  sh(("mkdir -p %s %s %s"):format(M.q(dir .. "/config/imapsift"),
    M.q(dir .. "/state"), M.q(dir .. "/home")))
  return dir
end

function M.cleanup(dir)
  if dir and dir:match("^/tmp/") then sh("rm -rf " .. M.q(dir)) end
end

-- The environment prefix that points the binary at the home's dirs;
-- extra's fields replace those (false: unset the variable).
local function env_prefix(dir, extra)
  local vars = { XDG_CONFIG_HOME = dir .. "/config",
    XDG_STATE_HOME = dir .. "/state", HOME = dir .. "/home" }
  for k, v in pairs(extra or {}) do vars[k] = v end
  local parts = { "env" }
  for _, k in ipairs{ "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME" } do
    parts[#parts + 1] = vars[k] and (k .. "=" .. M.q(vars[k]))
      or ("-u " .. k)
  end
  return table.concat(parts, " ") .. " "
end

local function command_line(dir, args, env)
  local parts = { env_prefix(dir, env) .. M.q(M.bin) }
  for _, a in ipairs(args or {}) do parts[#parts + 1] = M.q(a) end
  return table.concat(parts, " ")
end

-- run(dir, args [, env]) -> { code, out, err }: runs the binary to its
-- end with stdin from /dev/null; env as for env_prefix.
function M.run(dir, args, env)
  local out, err = dir .. "/run.out", dir .. "/run.err"
  local _, _, code = os.execute(("cd %s && %s </dev/null >%s 2>%s"):format(
    M.q(dir), command_line(dir, args, env), M.q(out), M.q(err)))
  return { code = code, out = M.read(out) or "", err = M.read(err) or "" }
end

-- account(extra) -> Lua source of an imapsift.account{} for the spare
-- user the spec logs in as, over implicit TLS with the test CA; extra's
-- fields replace the defaults (false removes one).
function M.account(extra)
  local o = { name = "e2e", host = server.host, port = server.imaps_port,
    tls = "implicit", ca_file = server.ca, user = server.user,
    password = server.password, create = true, timeout = 20 }
  for k, v in pairs(extra or {}) do
    if v == false then o[k] = nil else o[k] = v end
  end
  local fields = {}
  for k, v in pairs(o) do
    fields[#fields + 1] = ("%s = %s"):format(k,
      type(v) == "string" and ("%q"):format(v) or tostring(v))
  end
  table.sort(fields)
  return "imapsift.account{ " .. table.concat(fields, ", ") .. " }"
end

-- script(dir, body [, extra [, name]]) -> path of a rules file that
-- starts with `local imapsift = require "imapsift"` and
-- `local acct = <account(extra)>`.
function M.script(dir, body, extra, name)
  return M.write(dir .. "/" .. (name or "rules.lua"),
    'local imapsift = require "imapsift"\n' ..
    "local acct = " .. M.account(extra) .. "\n" .. body .. "\n")
end

-- count(text, pattern) -> how many times a plain string occurs.
function M.count(text, plain)
  local n, init = 0, 1
  while true do
    local s, e = (text or ""):find(plain, init, true)
    if not s then return n end
    n, init = n + 1, e + 1
  end
end

-- wait_for(fn [, timeout]) -> fn's first true result, polling every
-- 0.1 s; nil when the bound passes.
function M.wait_for(fn, timeout)
  local deadline = core.monotonic() + (timeout or M.TIMEOUT)
  repeat
    local v = fn()
    if v then return v end
    core.sleep(0.1)
  until core.monotonic() > deadline
  return fn()
end

-- wait_text(path, plain, n [, timeout]) -> true once the file holds at
-- least n occurrences of the plain string.
function M.wait_text(path, plain, n, timeout)
  return M.wait_for(function()
    return M.count(M.read(path), plain) >= (n or 1)
  end, timeout) and true or false
end

local Proc = {}
Proc.__index = Proc

-- start(dir, args) -> a Proc: the binary in the background; its pid is
-- the binary's own (sh execs it), its exit code lands in a file.
function M.start(dir, args)
  local p = setmetatable({ dir = dir, pidfile = dir .. "/bg.pid",
    codefile = dir .. "/bg.code", out = dir .. "/bg.out",
    err = dir .. "/bg.err" }, Proc)
  os.remove(p.pidfile)
  os.remove(p.codefile)
  local inner = ("echo $$ >%s; exec %s"):format(M.q(p.pidfile),
    command_line(dir, args))
  local wrapper = M.write(dir .. "/bg.sh", ("cd %s\nsh -c %s </dev/null "
    .. ">%s 2>%s\necho $? >%s.tmp && mv %s.tmp %s\n"):format(M.q(dir),
    M.q(inner), M.q(p.out), M.q(p.err), M.q(p.codefile), M.q(p.codefile),
    M.q(p.codefile)))
  sh(("sh %s </dev/null >/dev/null 2>&1 &"):format(M.q(wrapper)))
  p.pid = M.wait_for(function()
    return tonumber((M.read(p.pidfile) or ""):match("%d+"))
  end)
  assert(p.pid, "the background imapsift did not start")
  return p
end

-- code() -> the exit code, or nil while it runs.
function Proc:code()
  return tonumber((M.read(self.codefile) or ""):match("%d+"))
end

function Proc:signal(name)
  if self:code() == nil then
    os.execute(("kill -%s %d 2>/dev/null"):format(name, self.pid))
  end
end

-- wait([timeout]) -> the exit code, or nil when it still runs.
function Proc:wait(timeout)
  return M.wait_for(function() return self:code() end, timeout)
end

function Proc:stderr() return M.read(self.err) or "" end
function Proc:stdout() return M.read(self.out) or "" end

-- kill(): make sure nothing is left running (after_each).
function Proc:kill()
  if self:code() == nil then
    self:signal("KILL")
    self:wait(10)
  end
end

return M
