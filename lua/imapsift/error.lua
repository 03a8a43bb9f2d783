-- imapsift.error: the structured error values raised by the connection
-- object. Fields: kind ("no", "bad", "bye", "protocol", "tls", "timeout",
-- "closed", "usage", "readonly", "connect", "limit", "io"), command (what
-- was being done), code (the response code name, e.g. "TRYCREATE"),
-- text (the server's or the library's text), mailbox (when one is
-- involved). tostring() gives one readable line with control characters
-- escaped, e.g.
--   COPY to "Archive/2024" failed: NO [TRYCREATE] Mailbox doesn't exist

local M = {}

local Error = {}
Error.__index = Error
M.Error = Error

-- Escape control characters and backslashes, keep printable text and
-- UTF-8 as they are, so server text cannot drive a terminal.
function M.escape(s)
  s = tostring(s)
  return (s:gsub("[%z\1-\31\127]", function(c)
    return string.format("\\x%02x", c:byte())
  end))
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

function M.is(e, kind)
  return getmetatable(e) == Error and (kind == nil or e.kind == kind)
end

return M
