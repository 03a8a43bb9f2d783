-- spec/support/fake.lua: helpers for specs that talk to the scripted
-- fake server (spec/support/fake_server.lua) over the stream transport.
--
--   local fake = require "support.fake"
--   local srv = fake.new{ { send = "* OK hi\r\n" }, { recv = "^A1 NOOP" },
--                         { reply = "OK" } }
--   local imap = imapsift.connect(srv:options{ timeout = 5 })
--   ...; imap:shutdown()
--   assert.equal("A1 NOOP\r\n", srv:log())   -- bytes the client sent
--   assert.equal("done", srv:status())       -- every step ran

local M = {}

-- The server script, found next to this file so specs work from any
-- directory busted is started in.
local function server_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]*$") or "."
  return dir .. "/fake_server.lua"
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Writes v as a Lua expression (strings, numbers, booleans, tables).
local function serialize(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = ("%q"):format(v)
  elseif t == "number" or t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" then
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      out[#out + 1] = "["
      serialize(k, out)
      out[#out + 1] = "]="
      serialize(x, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  else
    error("cannot serialize a " .. t)
  end
end

local util = require "support.util"
local write_file, read_file = util.write_file, util.read_file

local Server = {}
Server.__index = Server

-- new(steps) -> server handle. The scenario goes to a temporary file.
function M.new(steps)
  local out = { "return " }
  serialize(steps, out)
  local scenario, log = os.tmpname(), os.tmpname()
  write_file(scenario, table.concat(out))
  os.remove(log .. ".status")
  return setmetatable({ scenario = scenario, log_path = log }, Server)
end

function Server:command()
  return "exec lua5.4 " .. shell_quote(server_path()) .. " " ..
    shell_quote(self.scenario) .. " " .. shell_quote(self.log_path)
end

-- options(extra) -> connect options for this server (extra merged in).
-- The pipe to the fake is private to this process: declared secure, so
-- that credentials may go over it (secure = false in extra undoes it).
function Server:options(extra)
  local o = { command = self:command(), timeout = 5, secure = true }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- log() -> every byte the client has sent so far.
function Server:log()
  return read_file(self.log_path) or ""
end

-- status() -> "done" when the scenario ran to the end, else why not
-- (nil while it is still running).
function Server:status()
  return read_file(self.log_path .. ".status")
end

-- Commands in the log, one string per line (CRLF removed).
function Server:lines()
  local out = {}
  for line in self:log():gmatch("([^\n]*)\n") do
    out[#out + 1] = line:gsub("\r$", "")
  end
  return out
end

function Server:cleanup()
  os.remove(self.scenario)
  os.remove(self.log_path)
  os.remove(self.log_path .. ".status")
end

-- Convenience: a greeting step advertising caps (a string).
function M.greeting(caps)
  return { send = "* OK [CAPABILITY " .. (caps or "IMAP4rev1") ..
    "] fake ready\r\n" }
end

-- pcall_error(f, ...) -> the error value f raised (fails if none).
function M.error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error, but the call succeeded")
  return err
end

-- session() -> s: the fake servers and connections of one spec file.
--   s:start(steps [, extra]) -> imap, server   (connect must succeed)
--   s:start_error(steps [, extra]) -> err, server (connect must fail
--       with a structured error)
--   s:cleanup()  closes every connection and removes every server; call
--       it from after_each.
function M.session()
  local s = { servers = {}, conns = {} }

  function s:new(steps)
    local srv = M.new(steps)
    self.servers[#self.servers + 1] = srv
    return srv
  end

  function s:start(steps, extra)
    local srv = self:new(steps)
    local imap = require("imapsift").connect(srv:options(extra))
    self.conns[#self.conns + 1] = imap
    return imap, srv
  end

  function s:start_error(steps, extra)
    local srv = self:new(steps)
    local err = M.error_of(require("imapsift").connect, srv:options(extra))
    collectgarbage() -- reaps a half-open connection, completing the log
    collectgarbage()
    assert(require("imapsift.error").is(err),
      "not a structured error: " .. tostring(err))
    return err, srv
  end

  -- finish(imap, srv) -> every byte the client sent: the connection is
  -- closed first (which waits for the fake to exit), so the log is whole.
  function s.finish(imap, srv)
    imap:shutdown()
    return srv:log()
  end

  function s:cleanup()
    for _, c in ipairs(self.conns) do pcall(c.shutdown, c) end
    for _, v in ipairs(self.servers) do v:cleanup() end
    self.servers, self.conns = {}, {}
  end

  return s
end

return M
