-- Bench job triage with imapsift's connection object: mailing-list mail
-- (List-Id contains lists.example.org) moves to "Lists"; of the rest, the
-- messages whose decoded Subject matches \b(invoice|receipt)\b (any case)
-- get \Flagged. The server narrows by substring, the regex decides.
local imapsift = require "imapsift"
local core = require "imapsift.core"
local headers = imapsift.headers
local env = os.getenv

local imap <close> = imapsift.connect{ host = env("BENCH_HOST"),
  port = tonumber(env("BENCH_PORT")), tls = "none", allow_plaintext = true,
  user = env("BENCH_USER"), password = env("BENCH_PASSWORD") }
imap:select(env("BENCH_MAILBOX"))

local lists = imap:search{ "HEADER", "List-Id", "lists.example.org" }
if #lists > 0 then imap:move(lists, "Lists") end

local candidates = imap:search{ "OR", "SUBJECT", "invoice",
  "SUBJECT", "receipt" }
local rx = core.regex([[\b(invoice|receipt)\b]], "i")
local ITEM = "HEADER.FIELDS (SUBJECT)"
local flag = {}
if #candidates > 0 then
  imap:fetch(candidates, { "BODY.PEEK[" .. ITEM .. "]" }, { each = function(m)
    local subject = headers.parse(m.body[ITEM] or "").subject
    if subject and rx:match(headers.decode(subject[1])) then
      flag[#flag + 1] = m.uid
    end
  end })
end
if #flag > 0 then imap:store(flag, "+FLAGS", { "\\Flagged" }, { silent = true }) end
imap:logout()

print(('RESULT {"moved": %d, "flagged": %d}'):format(#lists, #flag))
