-- imapsift.sasl: the client side of the SASL mechanisms, as small state
-- machines with no I/O: the connection feeds them the server's decoded
-- challenges and sends what they return. RFC 4422 (SASL), RFC 4616
-- (PLAIN), draft-murchison-sasl-login (LOGIN), RFC 2195 (CRAM-MD5),
-- RFC 5802 / RFC 7677 (SCRAM-SHA-1, SCRAM-SHA-256), RFC 4013 (SASLprep,
-- mapping only), RFC 7628 (OAUTHBEARER), Google's XOAUTH2.
--
--   local m = sasl.new("SCRAM-SHA-256", { user = "u", password = "p" })
--   m.name            -- the mechanism's name, upper case
--   m:start()         -- the initial response, or nil when the server
--                     -- speaks first
--   m:step(challenge) -- the response to a challenge (raw bytes), or
--                     -- nil, error when the exchange must be cancelled
--   m:finish()        -- true, or nil, error when the server said OK
--                     -- without proving what the mechanism needs
--   m.failure         -- what the server reported in an error challenge
--                     -- (OAuth's JSON, SCRAM's e=), for the error text
-- Errors are imapsift.error values of kind "protocol" (or "no" when the
-- server reported a failure); new() raises kind "usage" for bad input.

local core = require "imapsift.core"
local errors = require "imapsift.error"

local M = {}

local b64enc, b64dec = core.base64_encode, core.base64_decode

-- Bad input to new() or a mechanism: kind "usage", command "SASL".
local function usage(fmt, ...) errors.usage("SASL", fmt, ...) end

local function protocol(fmt, ...)
  return nil, errors.new{ kind = "protocol", text = fmt:format(...) }
end

---------------------------------------------------------------------------
-- SASLprep (RFC 4013), the mapping part: non-ASCII spaces become SPACE
-- and the characters "commonly mapped to nothing" disappear. Unicode
-- normalization (NFKC) is not done: it needs tables this project does
-- not carry, and ASCII and already-composed strings need none.

local function nothing(c)
  return c == 0xAD or c == 0x34F or c == 0x1806 or
    (c >= 0x180B and c <= 0x180D) or (c >= 0x200C and c <= 0x200D) or
    c == 0x2060 or (c >= 0xFE00 and c <= 0xFE0F) or c == 0xFEFF
end

local function space(c)
  return c == 0xA0 or c == 0x1680 or (c >= 0x2000 and c <= 0x200B) or
    c == 0x202F or c == 0x205F or c == 0x3000
end

-- saslprep(s) -> s mapped; bytes that are not UTF-8 are left as they are.
function M.saslprep(s)
  if not s:find("[\128-\255]") then return s end
  local ok, out = pcall(function()
    local parts = {}
    for _, c in utf8.codes(s) do
      if space(c) then parts[#parts + 1] = " "
      elseif not nothing(c) then parts[#parts + 1] = utf8.char(c) end
    end
    return table.concat(parts)
  end)
  return ok and out or s
end

-- saslname (RFC 5802 5.1): "=" and "," escaped as "=3D" and "=2C".
function M.saslname(s)
  return (M.saslprep(s):gsub("=", "=3D"):gsub(",", "=2C"))
end

---------------------------------------------------------------------------
-- Helpers shared by the mechanisms

local function check_string(creds, field, mech)
  local v = creds[field]
  if type(v) ~= "string" then
    usage("%s needs %s (a string)", mech, field)
  end
  return v
end

local function no_byte(v, byte, field, mech)
  if v:find(byte, 1, true) then
    usage("%s: %s must not contain byte %d", mech, field, byte:byte())
  end
end

-- Mechanisms whose client speaks once and expects nothing back; a
-- challenge after that is the server's error report (OAuth), answered
-- with `reply` so that the server can send its tagged NO.
local function one_shot(name, initial, reply)
  local m = { name = name, state = "initial" }
  function m:start()
    self.state = "sent"
    return initial
  end
  function m:step(challenge)
    if self.state == "sent" and reply then
      self.state, self.failure = "failed", challenge
      return reply
    end
    return protocol("%s: unexpected challenge from the server", name)
  end
  function m:finish() return true end
  return m
end

---------------------------------------------------------------------------
-- PLAIN (RFC 4616): [authzid] NUL user NUL password, in one message.

local function plain(creds)
  local user = check_string(creds, "user", "PLAIN")
  local password = check_string(creds, "password", "PLAIN")
  local authzid = creds.authzid or ""
  for field, v in pairs{ user = user, password = password,
      authzid = authzid } do
    no_byte(v, "\0", field, "PLAIN")
  end
  return one_shot("PLAIN", authzid .. "\0" .. user .. "\0" .. password)
end

-- LOGIN: the server prompts twice ("Username:", "Password:"); the
-- prompts' text varies between servers, so their order decides.
local function login(creds)
  local answers = { check_string(creds, "user", "LOGIN"),
    check_string(creds, "password", "LOGIN") }
  local m = { name = "LOGIN", state = 0 }
  function m:start() return nil end
  function m:step()
    if self.state >= 2 then
      return protocol("LOGIN: more than two prompts from the server")
    end
    self.state = self.state + 1
    return answers[self.state]
  end
  function m:finish() return true end
  return m
end

-- CRAM-MD5 (RFC 2195): user SP lowercase hex HMAC-MD5(password, challenge).
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function cram_md5(creds)
  local user = check_string(creds, "user", "CRAM-MD5")
  local password = check_string(creds, "password", "CRAM-MD5")
  local m = { name = "CRAM-MD5", state = "initial" }
  function m:start() return nil end
  function m:step(challenge)
    if self.state ~= "initial" then
      return protocol("CRAM-MD5: more than one challenge from the server")
    end
    self.state = "answered"
    return user .. " " .. hex(core.hmac("md5", password, challenge))
  end
  function m:finish() return true end
  return m
end

---------------------------------------------------------------------------
-- OAuth bearer tokens: XOAUTH2 (Google, Microsoft) and OAUTHBEARER
-- (RFC 7628). A failure comes as a challenge carrying a JSON status;
-- the client must answer (empty / ^A) before the server sends NO.

local function xoauth2(creds)
  local user = check_string(creds, "user", "XOAUTH2")
  local token = check_string(creds, "token", "XOAUTH2")
  no_byte(user, "\1", "user", "XOAUTH2")
  no_byte(token, "\1", "token", "XOAUTH2")
  return one_shot("XOAUTH2",
    "user=" .. user .. "\1auth=Bearer " .. token .. "\1\1", "")
end

local function oauthbearer(creds)
  local token = check_string(creds, "token", "OAUTHBEARER")
  no_byte(token, "\1", "token", "OAUTHBEARER")
  local gs2 = creds.user and ("n,a=" .. M.saslname(creds.user) .. ",")
    or "n,,"
  local kv = {}
  if creds.host then
    no_byte(tostring(creds.host), "\1", "host", "OAUTHBEARER")
    kv[#kv + 1] = "host=" .. tostring(creds.host)
  end
  if creds.port then kv[#kv + 1] = "port=" .. tostring(creds.port) end
  kv[#kv + 1] = "auth=Bearer " .. token
  return one_shot("OAUTHBEARER",
    gs2 .. "\1" .. table.concat(kv, "\1") .. "\1\1", "\1")
end

---------------------------------------------------------------------------
-- SCRAM (RFC 5802, RFC 7677). States: initial -> first-sent (client-first
-- sent) -> final-sent (client-final sent, server signature expected) ->
-- verified; or failed when the server reported e=.

local SCRAM_HASH = { ["SCRAM-SHA-1"] = { "sha1", 20 },
  ["SCRAM-SHA-256"] = { "sha256", 32 } }
local MAX_ITERATIONS = 10000000 -- core.pbkdf2's limit

-- Splits "a=x,b=y" into an array of { name, value } and a lookup table;
-- nil when an attribute is malformed.
local function attributes(msg)
  local list, by = {}, {}
  for part in (msg .. ","):gmatch("([^,]*),") do
    local k, v = part:match("^(%a)=(.*)$")
    if not k then return nil end
    list[#list + 1] = { k, v }
    if by[k] == nil then by[k] = v end
  end
  return list, by
end

local function new_nonce()
  return b64enc(core.random(18))
end

local Scram = {}
Scram.__index = Scram

local function scram(name, creds)
  local user = check_string(creds, "user", name)
  local password = check_string(creds, "password", name)
  local nonce = creds.nonce or new_nonce()
  if type(nonce) ~= "string" or nonce == "" or
      nonce:find("[^\33-\43\45-\126]") then
    usage("%s: the client nonce must be printable ASCII without ','",
      name)
  end
  local gs2 = creds.authzid and ("n,a=" .. M.saslname(creds.authzid) .. ",")
    or "n,,"
  local h = SCRAM_HASH[name]
  return setmetatable({ name = name, state = "initial", hash = h[1],
    hlen = h[2], password = M.saslprep(password), nonce = nonce, gs2 = gs2,
    first_bare = "n=" .. M.saslname(user) .. ",r=" .. nonce }, Scram)
end

function Scram:start()
  self.state = "first-sent"
  return self.gs2 .. self.first_bare
end

function Scram:step(challenge)
  if self.state == "first-sent" then return self:server_first(challenge) end
  if self.state == "final-sent" then return self:server_final(challenge) end
  return protocol("%s: unexpected challenge from the server", self.name)
end

-- Checks server-first-message; returns its nonce, salt, iterations or
-- nil, error text.
function Scram:parse_first(msg)
  local list, by = attributes(msg)
  if not list then return nil, "malformed server-first-message" end
  if list[1][1] == "m" then
    return nil, "server requires an extension this client does not know"
  end
  local r, s, i = by.r, by.s and b64dec(by.s), by.i
  if not (r and s and i and s ~= "" and i:match("^%d+$")) then
    return nil, "server-first-message lacks a nonce, salt or count"
  end
  if #r <= #self.nonce or r:sub(1, #self.nonce) ~= self.nonce then
    return nil, "server nonce does not extend the client nonce"
  end
  i = tonumber(i)
  if not i or i < 1 or i > MAX_ITERATIONS then
    return nil, "iteration count out of range: " .. by.i
  end
  return r, s, i
end

function Scram:server_first(msg)
  local _, by = attributes(msg)
  if by and by.e then return self:server_error(by.e) end
  local r, salt, iter = self:parse_first(msg)
  if not r then return protocol("%s: %s", self.name, salt) end
  local H = self.hash
  local salted = core.pbkdf2(H, self.password, salt, iter, self.hlen)
  local client_key = core.hmac(H, salted, "Client Key")
  local stored_key = core.hash(H, client_key)
  local without_proof = "c=" .. b64enc(self.gs2) .. ",r=" .. r
  local auth_message = self.first_bare .. "," .. msg .. "," .. without_proof
  local proof = core.xor(client_key,
    core.hmac(H, stored_key, auth_message))
  local server_key = core.hmac(H, salted, "Server Key")
  self.server_signature = core.hmac(H, server_key, auth_message)
  self.password = nil -- not needed any more
  self.state = "final-sent"
  return without_proof .. ",p=" .. b64enc(proof)
end

function Scram:server_final(msg)
  local _, by = attributes(msg)
  if by and by.e then return self:server_error(by.e) end
  local v = by and by.v and b64dec(by.v)
  if v == nil then
    return protocol("%s: malformed server-final-message", self.name)
  end
  if v ~= self.server_signature then
    self.state = "mismatch"
    return protocol("SCRAM server signature does not match")
  end
  self.state = "verified"
  return "" -- the empty response that lets the server send OK
end

-- e=... (RFC 5802 7): the server failed the exchange; answer so that its
-- tagged NO follows, and keep the reason for the error text.
function Scram:server_error(value)
  self.state, self.failure = "failed", value
  return ""
end

function Scram:finish()
  if self.state == "verified" then return true end
  if self.state == "failed" then
    return nil, errors.new{ kind = "protocol", text = ("%s: server " ..
      "reported %s and then accepted the login"):format(self.name,
      self.failure) }
  end
  return protocol("%s: server accepted the login without proving it " ..
    "knows the password (no server signature)", self.name)
end

---------------------------------------------------------------------------

local MECHANISMS = {
  PLAIN = plain, LOGIN = login, ["CRAM-MD5"] = cram_md5,
  XOAUTH2 = xoauth2, OAUTHBEARER = oauthbearer,
  ["SCRAM-SHA-1"] = function(c) return scram("SCRAM-SHA-1", c) end,
  ["SCRAM-SHA-256"] = function(c) return scram("SCRAM-SHA-256", c) end,
}

-- supported(name) -> true when this module implements the mechanism.
function M.supported(name)
  return type(name) == "string" and MECHANISMS[name:upper()] ~= nil
end

-- new(name, creds) -> mechanism. creds: user, password, authzid (PLAIN,
-- SCRAM), token (XOAUTH2, OAUTHBEARER), host and port (OAUTHBEARER),
-- nonce (SCRAM; random by default, given only by tests).
function M.new(name, creds)
  local make = M.supported(name) and MECHANISMS[name:upper()]
  if not make then usage("unknown SASL mechanism %s", tostring(name)) end
  if type(creds) ~= "table" then usage("%s needs credentials", name) end
  return make(creds)
end

return M
