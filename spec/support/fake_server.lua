-- spec/support/fake_server.lua: a scripted fake IMAP server for the
-- session specs. Run as a subprocess (the stream transport):
--
--   lua5.4 spec/support/fake_server.lua SCENARIO LOG
--
-- SCENARIO is a Lua file returning an array of steps, played in order:
--   { send = "bytes" } / { raw = "bytes" }  write bytes to stdout as given
--   { recv = "pattern" }  read one whole command (literals included) and
--       match the Lua pattern against it (CRLFs included). A line ending
--       in {n} gets "+ go" before its literal, {n+} does not. On mismatch
--       or end of input the server reports and exits with status 3.
--       Optional fields: cont = "text" replaces "+ go";
--       refuse = "NO text" answers a synchronizing literal with a tagged
--       completion instead of "+" and ends the step (the literal is not
--       read; a client that does not wait for "+" shows in the LOG);
--       instead = "bytes" sends those bytes instead of "+" and ends the
--       step the same way.
--   { reply = "OK done" }  write "<tag of the last command> OK done\r\n"
--   { recv_all = "pattern", reply = "OK", ["until"] = "pattern2" }
--       answer every command matching pattern with reply (or, when
--       script = "Lua chunk returning function(cmd, tag)" is given, with
--       the bytes that function returns), until a command matches
--       pattern2 instead (that one is left for the next steps to answer)
--   { sleep = seconds }
--   { read = n }          read n bytes, whatever they are (logged)
--   { drain = true }      read and log everything until end of input,
--                         then exit (what a client sends after a point)
--   { close = true }      exit now, closing stdout
-- Every byte read from stdin is appended to LOG as it arrives, so specs
-- can compare the exact bytes the client sent. LOG .. ".status" gets
-- "done" when every step ran, or the reason the scenario failed.

local scenario_file, log_file = arg[1], arg[2]
if not (scenario_file and log_file) then
  io.stderr:write("usage: fake_server.lua SCENARIO LOG\n")
  os.exit(2)
end

io.stdout:setvbuf("no")
local steps = dofile(scenario_file)
local log = assert(io.open(log_file, "wb"))
log:setvbuf("no")
local last_tag = "*"

local function status(text)
  local f = io.open(log_file .. ".status", "wb")
  if f then f:write(text); f:close() end
end

local function fail(fmt, ...)
  local msg = "fake_server: " .. fmt:format(...)
  io.stderr:write(msg, "\n")
  status(msg)
  log:close()
  os.exit(3)
end

local function send(bytes)
  io.stdout:write(bytes)
  io.stdout:flush()
end

local function read_line()
  local line = io.stdin:read("L")
  if line then log:write(line) end
  return line
end

local function read_bytes(n)
  local got = n > 0 and io.stdin:read(n) or ""
  if got then log:write(got) end
  return got
end

-- Reads one command: a line, and while it announces a literal, the
-- literal and the line that follows. Returns the whole command, or nil
-- and the partial text when input ended or the literal was refused.
local function read_command(step)
  local parts = {}
  while true do
    local line = read_line()
    if line == nil then return nil, table.concat(parts), "eof" end
    parts[#parts + 1] = line
    if #parts == 1 then last_tag = line:match("^(%S+)") or "*" end
    local n, plus = line:match("~?{(%d+)(%+?)}\r?\n$")
    if not n then return table.concat(parts) end
    if plus == "" then
      if step.refuse or step.instead then
        send(step.instead or (last_tag .. " " .. step.refuse .. "\r\n"))
        return nil, table.concat(parts), "refused"
      end
      send((step.cont or "+ go") .. "\r\n")
    end
    local data = read_bytes(tonumber(n))
    if data == nil or #data < tonumber(n) then
      return nil, table.concat(parts) .. (data or ""), "eof"
    end
    parts[#parts + 1] = data
  end
end

local function show(s)
  return (s:gsub("[%c\128-\255]", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

local function recv(step, i)
  local cmd, partial, why = read_command(step)
  if cmd == nil then
    if why == "refused" then return end
    fail("step %d: input ended while waiting for '%s' (got '%s')", i,
      show(step.recv), show(partial))
  end
  if not cmd:find(step.recv) then
    fail("step %d: command '%s' does not match '%s'", i, show(cmd),
      show(step.recv))
  end
end

local function answer_all(step, i)
  local respond = step.script and assert(load(step.script))()
  while true do
    local cmd, partial = read_command(step)
    if cmd == nil then
      fail("step %d: input ended inside recv_all (got '%s')", i,
        show(partial))
    end
    if cmd:find(step.recv_all) then
      send(respond and respond(cmd, last_tag) or
        (last_tag .. " " .. step.reply .. "\r\n"))
    elseif step["until"] and cmd:find(step["until"]) then
      return
    else
      fail("step %d: command '%s' matches neither '%s' nor '%s'", i,
        show(cmd), show(step.recv_all), show(step["until"] or ""))
    end
  end
end

local function drain()
  while true do
    local chunk = io.stdin:read(4096)
    if chunk == nil then return end
    log:write(chunk)
  end
end

for i, step in ipairs(steps) do
  if step.send or step.raw then
    send(step.send or step.raw)
  elseif step.recv then
    recv(step, i)
  elseif step.recv_all then
    answer_all(step, i)
  elseif step.reply then
    send(last_tag .. " " .. step.reply .. "\r\n")
  elseif step.read then
    local got = read_bytes(step.read)
    if got == nil or #got < step.read then
      fail("step %d: input ended before %d bytes", i, step.read)
    end
  elseif step.sleep then
    os.execute(("sleep %.3f"):format(step.sleep))
  elseif step.drain then
    drain()
    break
  elseif step.close then
    break
  else
    fail("step %d: unknown step", i)
  end
end

status("done")
log:close()
os.exit(0)
