-- example.lua: a small rule script. It files mail from the boss into
-- "Boss", moves newsletters to "Newsletters" and flags invoices, then
-- prints what it did. The demo (scripts/demo) runs it against the
-- private test server; point the IMAPSIFT_* variables elsewhere to run it
-- against your own account.

local imapsift = require "imapsift"

local env = os.getenv
local imap <close> = imapsift.connect{
  host = env("IMAPSIFT_HOST") or "127.0.0.1",
  port = tonumber(env("IMAPSIFT_IMAPS_PORT") or "993"),
  tls = "implicit",
  ca_file = env("IMAPSIFT_CA"),
  user = env("IMAPSIFT_USER") or "alice",
  password = env("IMAPSIFT_PASSWORD"),
}

local function ensure(name)
  for _, box in ipairs(imap:list("", name)) do
    if box.name == name then return end
  end
  imap:create(name)
  print(("created mailbox %s"):format(name))
end

local inbox = imap:select("INBOX")
print(("INBOX holds %d messages (UIDVALIDITY %d)"):format(
  inbox.exists, inbox.uidvalidity))

local function subjects(uids)
  if #uids == 0 then return {} end
  local out = {}
  for _, msg in ipairs(imap:fetch(uids, { "ENVELOPE" })) do
    out[#out + 1] = imapsift.mime.decode(msg.envelope.subject) or "(no subject)"
  end
  return out
end

local function file(criteria, mailbox, why)
  local uids = imap:search(criteria)
  if #uids == 0 then return end
  ensure(mailbox)
  local titles = subjects(uids)
  imap:move(uids, mailbox)
  for _, s in ipairs(titles) do
    print(("moved to %-12s %s  (%s)"):format(mailbox, s, why))
  end
end

file({ "FROM", "boss@example.org" }, "Boss", "from the boss")
file({ "HEADER", "List-Unsubscribe", "" }, "Newsletters", "newsletter")

local invoices = imap:search{ "SUBJECT", "invoice", "UNFLAGGED" }
if #invoices > 0 then
  imap:store(invoices, "+FLAGS", { "\\Flagged" })
  for _, s in ipairs(subjects(invoices)) do
    print(("flagged              %s  (invoice)"):format(s))
  end
end

local left = imap:status("INBOX", { "MESSAGES", "UNSEEN" })
print(("INBOX now holds %d messages, %d unseen"):format(left.messages,
  left.unseen))
imap:logout()
