-- spec/support/util.lua: small helpers shared by the specs: catching
-- structured errors, recording traces, and reading and writing files.
local errors = require "imapsift.error"

local M = {}

-- catch(fn, ...) -> the structured error fn raised (fails when fn
-- returns, or raises something else).
function M.catch(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, but the call succeeded")
  assert(errors.is(err), "expected a structured error, got: " ..
    tostring(err))
  return err
end

-- feed_chunks(chunks [, limits]) -> every response a fresh core.parser
-- gives for the chunks fed in turn; the parser must end idle.
function M.feed_chunks(chunks, limits)
  local p = require("imapsift.core").parser(limits)
  local out = {}
  for _, chunk in ipairs(chunks) do
    for _, r in ipairs(p:feed(chunk)) do out[#out + 1] = r end
  end
  assert(not p:busy(), "the parser holds part of a response")
  p:close()
  return out
end

-- rm_rf(path): removes a file or a directory tree (a spec's temp dir).
function M.rm_rf(path)
  local lfs = require "lfs"
  local mode = lfs.attributes(path, "mode")
  if mode == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then M.rm_rf(path .. "/" .. name) end
    end
    lfs.rmdir(path)
  elseif mode then
    os.remove(path)
  end
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- recorder() -> lines, trace: a trace function that records "C: ..."
-- and "S: ..." lines.
function M.recorder()
  local lines = {}
  return lines, function(dir, line) lines[#lines + 1] = dir .. ": " .. line end
end

-- count(lines, pattern) -> how many lines match.
function M.count(lines, pattern)
  local n = 0
  for _, l in ipairs(lines) do
    if l:find(pattern) then n = n + 1 end
  end
  return n
end

-- lit(s) -> s escaped for use as a literal Lua pattern.
function M.lit(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- A fresh temporary path that does not exist yet.
function M.tmpname()
  local name = os.tmpname()
  os.remove(name)
  return name
end

-- state_sandbox(state, plan) -> sb: a spec's own state directory (sb.dir),
-- nothing pending, a clean real-run plan whose log lines go to sb.lines.
-- state_restore(sb, state, plan) undoes it and removes the directory.
function M.state_sandbox(state, plan)
  local sb = { dir = M.tmpname(), lines = {}, log = plan.log }
  state.set_dir(sb.dir)
  state.discard()
  plan.reset()
  plan.dry_run(false)
  plan.log = function(line) sb.lines[#sb.lines + 1] = line end
  return sb
end

function M.state_restore(sb, state, plan)
  plan.log = sb.log
  plan.dry_run(false)
  plan.reset()
  state.set_dir(nil)
  state.discard()
  M.rm_rf(sb.dir)
end

return M
