-- imapsift.error: the structured error values raised by the connection
-- object. Fields: kind ("no", "bad", "bye", "protocol", "tls", "timeout",
-- "closed", "usage", "readonly", "connect", "limit", "io", "nomem",
-- "uidvalidity", "unsupported": the server lacks a capability it needs,
-- "stopped": a SIGTERM or SIGINT stopped the run), command (what
-- was being done), code (the response code name, e.g. "TRYCREATE"),
-- text (the server's or the library's text), mailbox (when one is
-- involved). tostring() gives one readable line with control characters
-- escaped, e.g.
--   COPY to "Archive/2024" failed: NO [TRYCREATE] Mailbox doesn't exist

local M = {}

local Error = {}
Error.__index = Error
M.Error = Error

-- Code points a terminal obeys instead of showing: the C1 controls
-- (U+0080..U+009F, e.g. CSI) and the bidi overrides and isolates
-- (U+202A..U+202E, U+2066..U+2069) that reorder what is displayed.
local function hidden(cp)
  return (cp >= 0x80 and cp <= 0x9f) or (cp >= 0x202a and cp <= 0x202e)
    or (cp >= 0x2066 and cp <= 0x2069)
end

-- One run of non-ASCII bytes: UTF-8 stays as it is except hidden code
-- points (\u{202e}); a byte that is not part of valid UTF-8 becomes
-- \xNN (a lone 0x9b is CSI to a terminal that takes 8-bit controls).
local function escape_run(run)
  local out, i, n = {}, 1, #run
  while i <= n do
    local b = run:byte(i)
    local len = b >= 0xf0 and 4 or b >= 0xe0 and 3 or b >= 0xc2 and 2 or 1
    local seq = run:sub(i, i + len - 1)
    local cp = len > 1 and #seq == len and utf8.len(seq) == 1 and
      utf8.codepoint(seq)
    if cp then
      out[#out + 1] = hidden(cp) and ("\\u{%x}"):format(cp) or seq
      i = i + len
    else
      out[#out + 1] = ("\\x%02x"):format(b)
      i = i + 1
    end
  end
  return table.concat(out)
end

-- escape(s) -> s safe to print: C0 controls and DEL as \xNN, C1 controls
-- and bidi overrides as \u{NN}, bytes that are not UTF-8 as \xNN;
-- printable text and other UTF-8 are kept, so server text cannot drive
-- a terminal or disguise what a log line says.
function M.escape(s)
  s = tostring(s):gsub("[%z\1-\31\127]", function(c)
    return ("\\x%02x"):format(c:byte())
  end)
  return (s:gsub("[\128-\255]+", escape_run))
end

local server_kinds = { no = "NO", bad = "BAD", bye = "BYE" }

function Error:__tostring()
  local what = self.command and (M.escape(self.command) .. " failed: ") or ""
  local status = server_kinds[self.kind]
  local parts = {}
  if status then
    parts[#parts + 1] = status
  else
    parts[#parts + 1] = "(" .. self.kind .. ")"
  end
  if self.code then parts[#parts + 1] = "[" .. M.escape(self.code) .. "]" end
  if self.text and self.text ~= "" then parts[#parts + 1] = M.escape(self.text) end
  return what .. table.concat(parts, " ")
end

-- new{ kind = ..., command = ..., code = ..., text = ... } -> error value
function M.new(fields)
  assert(type(fields) == "table" and fields.kind, "error needs a kind")
  return setmetatable(fields, Error)
end

-- raise(fields): throw a new error value (never returns).
function M.raise(fields)
  error(M.new(fields), 0)
end

-- from_core(err, command): turn a core failure { kind, text } into an
-- error value for command.
function M.from_core(err, command)
  local kind = err.kind
  if kind == "nomem" or kind == "internal" then kind = "protocol" end
  return M.new{ kind = kind, command = command, text = err.text }
end

-- from_response(r, command): error value for a tagged NO/BAD or a BYE.
function M.from_response(r, command)
  return M.new{
    kind = (r.status or "BYE"):lower(),
    command = command,
    code = r.code and r.code.name or nil,
    code_value = r.code and r.code.value or nil,
    text = r.text,
  }
end

-- from_bye(r, command): error value of kind "bye" for a BYE response r
-- (the server is closing the connection), whether it came as the
-- greeting, while a command ran, or was remembered before the link died.
function M.from_bye(r, command)
  local e = M.from_response(r, command)
  e.kind = "bye"
  return e
end

-- usage(command, fmt, ...): raise kind "usage" (a call the library
-- refuses before sending anything), text = fmt:format(...).
function M.usage(command, fmt, ...)
  M.raise{ kind = "usage", command = command, text = fmt:format(...) }
end

function M.is(e, kind)
  return getmetatable(e) == Error and (kind == nil or e.kind == kind)
end

return M
