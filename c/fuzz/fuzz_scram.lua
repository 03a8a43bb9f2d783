-- fuzz_scram.lua: the invariants fuzz_scram checks on the client side of
-- SCRAM-SHA-1 and SCRAM-SHA-256 (imapsift.sasl, RFC 5802 / RFC 7677).
-- Input: a flags byte, then user, password, server-first-message and
-- server-final-message separated by NUL bytes. Flag 1 picks SHA-256;
-- flag 2 puts the right server signature in front of the fuzzed
-- server-final ("v=<signature>" .. final) to reach the success path.
-- Every step returns a string or nil and a structured error, never
-- raises; the exchange never succeeds without the right signature.
local core = require "imapsift.core"
local errors = require "imapsift.error"

-- The iteration count comes from the server. sasl.lua must refuse what
-- core.pbkdf2 would refuse (that check stays), but the fuzzer runs
-- thousands of exchanges a second, so the work done is kept small.
local pbkdf2 = core.pbkdf2
core.pbkdf2 = function(hash, password, salt, iterations, length)
  if math.type(iterations) ~= "integer" or iterations < 1 or
      iterations > 10000000 then
    error("sasl.lua passed an iteration count it should have refused: " ..
      tostring(iterations))
  end
  return pbkdf2(hash, password, salt, math.min(iterations, 16), length)
end

local sasl = require "imapsift.sasl"

local NONCE = "cnonce"

local function fields(input)
  local out = {}
  for part in (input .. "\0"):gmatch("([^%z]*)%z") do out[#out + 1] = part end
  return out
end

-- A step's result: a string, or nil and a structured error.
local function checked(what, ok, r, err)
  if not ok then error(what .. " raised: " .. tostring(r)) end
  if r == nil then
    if not errors.is(err) then
      error(what .. " failed without a structured error: " .. tostring(err))
    end
  elseif type(r) ~= "string" then
    error(what .. " returned a " .. type(r))
  end
  return r
end

local function mechanism(flags, user, password)
  local name = flags & 1 == 1 and "SCRAM-SHA-256" or "SCRAM-SHA-1"
  local ok, m = pcall(sasl.new, name, { user = user, password = password,
    nonce = NONCE })
  if not ok then
    if errors.is(m, "usage") then return nil end
    error("new raised something unexpected: " .. tostring(m))
  end
  return m
end

local function exchange(flags, m, first, final)
  local initial = m:start()
  if initial:sub(-#NONCE - 3) ~= ",r=" .. NONCE then
    error("client-first-message without our nonce: " .. initial)
  end
  local client_final = checked("server-first", pcall(m.step, m, first))
  if not client_final then return false end
  if m.state ~= "failed" and not client_final:find(
      "^c=[%w+/=]+,r=" .. NONCE .. "[^,]+,p=[%w+/]+=*$") then
    error("malformed client-final-message: " .. client_final)
  end
  local forged = flags & 2 == 0 or m.server_signature == nil
  if not forged then
    final = "v=" .. core.base64_encode(m.server_signature) .. final
  end
  local r = checked("server-final", pcall(m.step, m, final))
  local done = checked("finish", pcall(function()
    local ok, err = m:finish()
    return ok and "verified" or nil, err
  end))
  if done and (forged or r ~= "") then
    error("the exchange succeeded without the server's signature")
  end
  return done
end

return function(input)
  local flags = input:byte(1) or 0
  local f = fields(input:sub(2))
  local m = mechanism(flags, f[1] or "user", f[2] or "pencil")
  if m then exchange(flags, m, f[3] or "", f[4] or "") end
end
