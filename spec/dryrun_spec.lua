-- spec/dryrun_spec.lua: the dry-run seam. With imap.intercept set, no
-- command that changes mail or mailboxes reaches the private Dovecot:
-- the interceptor gets one structured table per operation, fetches of
-- message text go out as .PEEK and close() keeps the mailbox selected.
-- Every case checks the server's state afterwards over a second
-- connection.
local server = require "support.server"
local util = require "support.util"

server.as(7) -- this file's own user

-- The server's view of a mailbox: message count and each UID's flags.
local function state_of(name)
  local c = server.connect()
  c:examine(name)
  local flags = {}
  for _, m in ipairs(c:fetch("1:*", { "FLAGS" })) do
    local f = {}
    for _, x in ipairs(m.flags) do
      if x ~= "\\Recent" then f[#f + 1] = x end
    end
    table.sort(f)
    flags[m.uid] = table.concat(f, " ")
  end
  local st = c:status(name, { "MESSAGES" })
  c:logout()
  return { messages = st.messages, flags = flags }
end

local function mailboxes()
  local c = server.connect()
  local names = {}
  for _, mb in ipairs(c:list("", "*")) do names[#names + 1] = mb.name end
  c:logout()
  table.sort(names)
  return table.concat(names, ",")
end

describe("a dry run (imap.intercept) against Dovecot", function()
  local imap, uids, seen, lines
  local before, boxes_before

  before_each(function()
    local trace
    lines, trace = util.recorder()
    imap = server.connect{ trace = trace }
    server.reset(imap)
    uids = server.fill(imap, "INBOX", 3)
    imap:select("INBOX")
    imap:store({ uids[3] }, "+FLAGS", { "\\Flagged" })
    before = state_of("INBOX")
    before.archive = state_of("Archive").messages
    boxes_before = mailboxes()
    seen = {}
    imap.intercept = function(info)
      seen[#seen + 1] = info
      return "dry", info.command
    end
  end)

  after_each(function()
    if imap then imap:shutdown() end
  end)

  local function unchanged()
    local now = state_of("INBOX")
    assert.same(before.flags, now.flags)
    assert.equal(before.messages, now.messages)
    assert.equal(before.archive, state_of("Archive").messages)
    assert.equal(boxes_before, mailboxes())
  end

  it("store: one structured call, the interceptor's values returned",
      function()
    local a, b = imap:store(uids, "+FLAGS", { "\\Seen", "\\Deleted" })
    assert.same({ "dry", "UID STORE" }, { a, b })
    assert.equal(1, #seen)
    local info = seen[1]
    assert.equal("UID STORE", info.command)
    assert.equal("INBOX", info.mailbox)
    assert.equal("INBOX", info.selected)
    assert.same(uids, info.uids)
    assert.is_nil(info.seq)
    assert.equal("+FLAGS", info.mode)
    assert.same({ "\\Seen", "\\Deleted" }, info.flags)
    assert.equal("table", type(info.args))
    assert.equal("string", type(info.what))
    imap:store("1:2", "-FLAGS.SILENT", "\\Flagged", { seq = true })
    assert.equal("STORE", seen[2].command)
    assert.is_true(seen[2].seq)
    assert.equal("-FLAGS.SILENT", seen[2].mode)
    assert.same({ "\\Flagged" }, seen[2].flags)
    unchanged()
  end)

  it("copy, move and the MOVE fallback are one call each", function()
    assert.equal("dry", imap:copy(uids, "Archive"))
    assert.equal("dry", imap:move({ uids[1] }, "Archive"))
    imap.capabilities.MOVE = nil -- the server as one without MOVE
    assert.equal("dry", imap:move(uids, "Archive"))
    assert.equal(3, #seen)
    assert.equal("UID COPY", seen[1].command)
    assert.equal("Archive", seen[1].destination)
    assert.equal("INBOX", seen[1].mailbox)
    assert.equal("UID MOVE", seen[2].command)
    assert.is_nil(seen[2].fallback)
    assert.equal("UID MOVE", seen[3].command)
    assert.is_true(seen[3].fallback)
    assert.same(uids, seen[3].uids)
    assert.equal("Archive", seen[3].destination)
    unchanged()
  end)

  it("expunge, append and the mailbox commands", function()
    imap:expunge()
    imap:expunge({ uids[1] })
    imap:append("INBOX", server.message{ subject = "dry" },
      { flags = { "\\Seen" } })
    imap:create("New")
    imap:delete("Archive")
    imap:rename("Archive", "Old")
    imap:subscribe("Archive")
    imap:unsubscribe("Archive")
    imap:command("UID STORE", { tostring(uids[1]), "+FLAGS", { "\\Seen" } })
    local got = {}
    for i, info in ipairs(seen) do got[i] = info.command end
    assert.same({ "EXPUNGE", "UID EXPUNGE", "APPEND", "CREATE", "DELETE",
      "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "UID STORE" }, got)
    assert.same({ uids[1] }, seen[2].uids)
    assert.equal("INBOX", seen[3].mailbox)
    assert.same({ "\\Seen" }, seen[3].flags)
    assert.equal(#seen[3].message, seen[3].size)
    assert.same({ "New", "New" }, { seen[4].mailbox, seen[4].name })
    assert.same({ "Archive", "Archive", "Old" },
      { seen[6].mailbox, seen[6].name, seen[6].destination })
    assert.equal("table", type(seen[9].args))
    unchanged()
  end)

  it("close() sends nothing and keeps the mailbox selected", function()
    assert.equal("dry", imap:close())
    assert.equal("CLOSE", seen[1].command)
    assert.equal("INBOX", seen[1].mailbox)
    assert.equal("SELECTED", imap:state())
    assert.equal("INBOX", imap.mailbox.name)
    assert.equal(3, #imap:search{ "ALL" }) -- still selected on the server
    assert.equal(0, util.count(lines, "^C: A%d+ CLOSE"))
    unchanged()
  end)

  -- The last UID FETCH line the client sent.
  local function last_fetch()
    local sent
    for _, l in ipairs(lines) do
      if l:find("^C: A%d+ UID FETCH") then sent = l end
    end
    return sent
  end

  it("fetches message text as .PEEK, under the keys asked for", function()
    local msgs = imap:fetch({ uids[1] }, { "BODY[]", "RFC822",
      "BODY[HEADER.FIELDS (SUBJECT)]", "RFC822.TEXT", "BINARY[1]", "FLAGS" })
    assert.equal(1, #msgs)
    local m = msgs[1]
    assert.matches("^From: ", m.body[""])
    assert.equal(m.body[""], m.rfc822)
    assert.matches("^Subject: message 1", m.body["HEADER.FIELDS (SUBJECT)"])
    assert.equal("Hello.\r\n", m.body.TEXT)
    assert.equal("Hello.\r\n", m.binary["1"])
    assert.matches(" (BODY.PEEK[] BODY.PEEK[] " ..
      "BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT] BINARY.PEEK[1] " ..
      "FLAGS)", last_fetch(), 1, true)
    local part = imap:fetch({ uids[2] }, "body[text]<0.3>")[1]
    assert.matches(" (BODY.PEEK[text]<0.3>)", last_fetch(), 1, true)
    local _, text = next(part.body)
    assert.equal("Hel", text)
    assert.same({}, seen) -- a fetch is not a change
    unchanged()
  end)

  it("reconnect() keeps the interceptor", function()
    local intercept = imap.intercept
    imap.conn:close()
    imap:reconnect()
    assert.equal(intercept, imap.intercept)
    imap:store(uids, "+FLAGS", { "\\Deleted" })
    imap:expunge()
    assert.equal(2, #seen)
    unchanged()
  end)

  it("without an interceptor the same calls do change the server",
      function()
    imap.intercept = nil
    imap:fetch({ uids[1] }, { "BODY[]" })
    imap:store({ uids[2] }, "+FLAGS", { "\\Deleted" })
    imap:close()
    assert.is_nil(imap.mailbox)
    local now = state_of("INBOX")
    assert.equal(2, now.messages)
    assert.equal("\\Seen", now.flags[uids[1]])
  end)
end)
