-- response_spec.lua: the Lua shapes of parsed responses (c/lua_response.c)
-- and the Parser userdata. Every fixture is checked three ways: parsed
-- whole with core.parse, fed to core.parser() split in two at every byte
-- offset, and fed one byte at a time; all must give the same tables.
local core = require "imapsift.core"

local function lit(s)
  return "{" .. #s .. "}\r\n" .. s
end

local function lit8(s)
  return "~{" .. #s .. "}\r\n" .. s
end

local feed_chunks = require("support.util").feed_chunks

local function check(wire, expected)
  local got, err = core.parse(wire)
  assert.is_nil(err)
  assert.same(expected, got)
  for i = 0, #wire do
    assert.same(expected, feed_chunks { wire:sub(1, i), wire:sub(i + 1) },
      "split at offset " .. i)
  end
  local bytes = {}
  for i = 1, #wire do
    bytes[i] = wire:sub(i, i)
  end
  assert.same(expected, feed_chunks(bytes), "one byte at a time")
end

local function untagged(t)
  t.kind = "untagged"
  return t
end

local function fetch(seq, t)
  t.kind, t.type, t.seq = "untagged", "FETCH", seq
  return t
end

-- name, wire bytes, expected array of responses
local fixtures = {}

local function fixture(name, wire, expected)
  fixtures[#fixtures + 1] = { name = name, wire = wire, expected = expected }
end

------------------------------------------------------------------------
-- status responses and response codes

fixture("greeting with a CAPABILITY code",
  "* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ "
    .. "AUTH=PLAIN] Dovecot ready.\r\n",
  { untagged {
    type = "OK", status = "OK", text = "Dovecot ready.",
    code = {
      name = "CAPABILITY",
      raw = "CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN",
      value = { "IMAP4rev1", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+",
                "AUTH=PLAIN" },
      args = { "IMAP4rev1", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+",
               "AUTH=PLAIN" },
    },
  } })

fixture("PREAUTH greeting without a code",
  "* PREAUTH IMAP4rev1 server logged in as Smith\r\n",
  { untagged { type = "PREAUTH", status = "PREAUTH",
               text = "IMAP4rev1 server logged in as Smith" } })

fixture("BYE",
  "* BYE Autologout; idle for too long\r\n",
  { untagged { type = "BYE", status = "BYE",
               text = "Autologout; idle for too long" } })

fixture("untagged OK codes of a SELECT",
  "* OK [UNSEEN 12] Message 12 is first unseen\r\n"
    .. "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    .. "* OK [UIDNEXT 4392] Predicted next UID\r\n"
    .. "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
    .. "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
    .. "A142 OK [READ-WRITE] SELECT completed\r\n",
  {
    untagged { type = "OK", status = "OK",
               text = "Message 12 is first unseen",
               code = { name = "UNSEEN", raw = "UNSEEN 12", value = 12,
                        args = { 12 } } },
    untagged { type = "OK", status = "OK", text = "UIDs valid",
               code = { name = "UIDVALIDITY", raw = "UIDVALIDITY 3857529045",
                        value = 3857529045, args = { 3857529045 } } },
    untagged { type = "OK", status = "OK", text = "Predicted next UID",
               code = { name = "UIDNEXT", raw = "UIDNEXT 4392",
                        value = 4392, args = { 4392 } } },
    untagged { type = "OK", status = "OK", text = "Limited",
               code = { name = "PERMANENTFLAGS",
                        raw = "PERMANENTFLAGS (\\Deleted \\Seen \\*)",
                        value = { "\\Deleted", "\\Seen", "\\*" },
                        args = { { "\\Deleted", "\\Seen", "\\*" } } } },
    untagged { type = "OK", status = "OK", text = "Highest",
               code = { name = "HIGHESTMODSEQ",
                        raw = "HIGHESTMODSEQ 715194045007",
                        value = 715194045007, args = { 715194045007 } } },
    { kind = "tagged", tag = "A142", status = "OK",
      text = "SELECT completed",
      code = { name = "READ-WRITE", raw = "READ-WRITE" } },
  })

fixture("tagged OK, NO and BAD with codes",
  "A932 OK [READ-ONLY] EXAMINE completed\r\n"
    .. "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    .. "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
    .. "A005 NO [TRYCREATE] No such mailbox\r\n"
    .. "A006 BAD [X-UNKNOWN 1 (a \"b c\") NIL] what\r\n"
    .. "A007 NO [BADCHARSET (UTF-8 US-ASCII)] charset\r\n"
    .. "A008 OK [APPENDLIMIT 1000] limit\r\n"
    .. "a009 ok [uidnext 5] lower case\r\n"
    .. "A010 OK done\r\n",
  {
    { kind = "tagged", tag = "A932", status = "OK",
      text = "EXAMINE completed",
      code = { name = "READ-ONLY", raw = "READ-ONLY" } },
    { kind = "tagged", tag = "A003", status = "OK", text = "APPEND completed",
      code = { name = "APPENDUID", raw = "APPENDUID 38505 3955",
               value = { uidvalidity = 38505, uids = "3955" },
               args = { 38505, 3955 } } },
    { kind = "tagged", tag = "A004", status = "OK", text = "Done",
      code = { name = "COPYUID", raw = "COPYUID 38505 304,319:320 3956:3958",
               value = { uidvalidity = 38505, source = "304,319:320",
                         dest = "3956:3958" },
               args = { 38505, "304,319:320", "3956:3958" } } },
    { kind = "tagged", tag = "A005", status = "NO", text = "No such mailbox",
      code = { name = "TRYCREATE", raw = "TRYCREATE" } },
    { kind = "tagged", tag = "A006", status = "BAD", text = "what",
      code = { name = "X-UNKNOWN", raw = "X-UNKNOWN 1 (a \"b c\") NIL",
               args = { 1, { "a", "b c" }, false } } },
    { kind = "tagged", tag = "A007", status = "NO", text = "charset",
      code = { name = "BADCHARSET", raw = "BADCHARSET (UTF-8 US-ASCII)",
               value = { "UTF-8", "US-ASCII" },
               args = { { "UTF-8", "US-ASCII" } } } },
    { kind = "tagged", tag = "A008", status = "OK", text = "limit",
      code = { name = "APPENDLIMIT", raw = "APPENDLIMIT 1000", value = 1000,
               args = { 1000 } } },
    { kind = "tagged", tag = "a009", status = "OK", text = "lower case",
      code = { name = "UIDNEXT", raw = "uidnext 5", value = 5,
               args = { 5 } } },
    { kind = "tagged", tag = "A010", status = "OK", text = "done" },
  })

-- A code ends at the first "]" outside its lists and quoted strings
-- (RFC 9051 resp-text-code), not at the first "]" of the line: servers
-- such as imaplib's test server send flags with brackets.
fixture("codes holding brackets in lists and quoted strings",
  "* OK [PERMANENTFLAGS (\\Answered \\[test] \\*)] Limited\r\n"
    .. "A1 NO [X-WHY \"see [1] ]\" (a]b)] oops ] here\r\n",
  {
    untagged { type = "OK", status = "OK", text = "Limited",
               code = { name = "PERMANENTFLAGS",
                        raw = "PERMANENTFLAGS (\\Answered \\[test] \\*)",
                        value = { "\\Answered", "\\[test]", "\\*" },
                        args = { { "\\Answered", "\\[test]", "\\*" } } } },
    { kind = "tagged", tag = "A1", status = "NO", text = "oops ] here",
      code = { name = "X-WHY", raw = "X-WHY \"see [1] ]\" (a]b)",
               args = { "see [1] ]", { "a]b" } } } },
  })

------------------------------------------------------------------------
-- untagged data

fixture("CAPABILITY",
  "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
  { untagged { type = "CAPABILITY",
               caps = { "IMAP4rev1", "STARTTLS", "AUTH=GSSAPI",
                        "LOGINDISABLED" } } })

fixture("ENABLED",
  "* ENABLED CONDSTORE QRESYNC\r\n",
  { untagged { type = "ENABLED", caps = { "CONDSTORE", "QRESYNC" } } })

fixture("LIST with atom, quoted, literal, number and NIL-delimiter names",
  "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n"
    .. "* LIST (\\HasNoChildren) \".\" \"Sent Items\"\r\n"
    .. "* LIST (\\HasChildren \\Marked) \"/\" " .. lit("Foo \"Bar\"")
    .. "\r\n"
    .. "* LIST (\\Noselect) NIL \"\"\r\n"
    .. "* LIST () \"/\" 2024\r\n"
    .. "* LIST (\\Subscribed) \"/\" \"Fruit/Banana\" "
    .. "(\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
  {
    untagged { type = "LIST", flags = { "\\Noselect" }, delimiter = "/",
               name = "~/Mail/foo" },
    untagged { type = "LIST", flags = { "\\HasNoChildren" }, delimiter = ".",
               name = "Sent Items" },
    untagged { type = "LIST", flags = { "\\HasChildren", "\\Marked" },
               delimiter = "/", name = "Foo \"Bar\"" },
    untagged { type = "LIST", flags = { "\\Noselect" }, name = "" },
    untagged { type = "LIST", flags = {}, delimiter = "/", name = "2024" },
    untagged { type = "LIST", flags = { "\\Subscribed" }, delimiter = "/",
               name = "Fruit/Banana",
               ext = { { "CHILDINFO", { "SUBSCRIBED" } } } },
  })

fixture("LSUB",
  "* LSUB () \".\" #news.comp.mail.misc\r\n",
  { untagged { type = "LSUB", flags = {}, delimiter = ".",
               name = "#news.comp.mail.misc" } })

fixture("STATUS",
  "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    .. "* STATUS \"Sent Items\" (UIDVALIDITY 1 Unseen 0 HIGHESTMODSEQ 9)\r\n",
  {
    untagged { type = "STATUS", name = "blurdybloop",
               items = { messages = 231, uidnext = 44292 } },
    untagged { type = "STATUS", name = "Sent Items",
               items = { uidvalidity = 1, unseen = 0, highestmodseq = 9 } },
  })

fixture("SEARCH over several lines, empty, and SORT",
  "* SEARCH 2 3 6\r\n* SEARCH 10\r\n* SEARCH\r\n* SORT 2 84 882\r\n",
  {
    untagged { type = "SEARCH", nums = { 2, 3, 6 } },
    untagged { type = "SEARCH", nums = { 10 } },
    untagged { type = "SEARCH", nums = {} },
    untagged { type = "SORT", nums = { 2, 84, 882 } },
  })

fixture("SEARCH with MODSEQ",
  "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n",
  { untagged { type = "SEARCH", nums = { 2, 5, 6, 7, 11, 12, 18, 19, 20, 23 },
               modseq = 917162500 } })

fixture("ESEARCH",
  "* ESEARCH (TAG \"A282\") UID MIN 2 COUNT 3\r\n"
    .. "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n"
    .. "* ESEARCH (TAG \"A284\") UID ALL 5 MAX 5 MODSEQ 99 X-PART (1 2)\r\n"
    .. "* ESEARCH COUNT 0\r\n",
  {
    untagged { type = "ESEARCH", tag = "A282", uid = true, min = 2,
               count = 3 },
    untagged { type = "ESEARCH", tag = "A283", all = "2,10:11" },
    untagged { type = "ESEARCH", tag = "A284", uid = true, all = "5",
               max = 5, modseq = 99, ext = { ["X-PART"] = { 1, 2 } } },
    untagged { type = "ESEARCH", count = 0 },
  })

fixture("FLAGS",
  "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n",
  { untagged { type = "FLAGS",
               flags = { "\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                         "\\Draft", "$Forwarded" } } })

fixture("EXISTS, RECENT and EXPUNGE",
  "* 23 EXISTS\r\n* 5 RECENT\r\n* 44 expunge\r\n",
  {
    untagged { type = "EXISTS", n = 23 },
    untagged { type = "RECENT", n = 5 },
    untagged { type = "EXPUNGE", n = 44 },
  })

fixture("NAMESPACE",
  "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")"
    .. "(\"#public/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\")))\r\n"
    .. "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n"
    .. "* NAMESPACE ((\"\" NIL)) NIL NIL\r\n",
  {
    untagged { type = "NAMESPACE",
               personal = { { prefix = "", delimiter = "/" } },
               other = { { prefix = "~", delimiter = "/" } },
               shared = {
                 { prefix = "#shared/", delimiter = "/" },
                 { prefix = "#public/", delimiter = "/",
                   ext = { ["X-PARAM"] = { "FLAG1", "FLAG2" } } },
               } },
    untagged { type = "NAMESPACE",
               personal = { { prefix = "INBOX.", delimiter = "." } },
               other = {}, shared = {} },
    untagged { type = "NAMESPACE", personal = { { prefix = "" } },
               other = {}, shared = {} },
  })

fixture("ID",
  "* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n* ID NIL\r\n",
  {
    untagged { type = "ID", params = { name = "Dovecot", version = false } },
    untagged { type = "ID", params = {} },
  })

fixture("continuation requests",
  "+ Ready for literal data\r\n+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3Kk=\r\n"
    .. "+ \r\n",
  {
    { kind = "continue", text = "Ready for literal data" },
    { kind = "continue", text = "YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3Kk=" },
    { kind = "continue", text = "" },
  })

fixture("unknown untagged data in the generic form",
  "* VANISHED (EARLIER) 300:310,405\r\n* 5 XFOO bar NIL 3\r\n"
    .. "* x-thing (\"a\")\r\n",
  {
    untagged { type = "VANISHED", args = { { "EARLIER" }, "300:310,405" } },
    untagged { type = "XFOO", n = 5, args = { "bar", false, 3 } },
    untagged { type = "X-THING", args = { { "a" } } },
  })

------------------------------------------------------------------------
-- FETCH

fixture("FETCH with the simple attributes and unknown ones",
  "* 12 FETCH (FLAGS (\\Seen $Junk) INTERNALDATE "
    .. "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 UID 100 "
    .. "MODSEQ (624140003) X-GM-MSGID 1278455344230334865 "
    .. "EMAILID (M6d99ac3275bb4e) X-PREVIEW NIL)\r\n"
    .. "* 13 FETCH (uid 5 flags ())\r\n",
  {
    fetch(12, { flags = { "\\Seen", "$Junk" },
                internaldate = "17-Jul-1996 02:44:25 -0700", size = 4286,
                uid = 100, modseq = 624140003,
                ext = { ["X-GM-MSGID"] = 1278455344230334865,
                        EMAILID = { "M6d99ac3275bb4e" },
                        ["X-PREVIEW"] = false } }),
    fetch(13, { uid = 5, flags = {} }),
  })

local rfc_envelope = "ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
  .. "\"IMAP4rev1 WG mtg summary and minutes\" "
  .. "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
  .. "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
  .. "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
  .. "((NIL NIL \"imap\" \"cac.washington.edu\")) "
  .. "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
  .. "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
  .. "\"<B27397-0100000@cac.washington.edu>\")"

local gray = { name = "Terry Gray", mailbox = "gray",
               host = "cac.washington.edu" }

fixture("ENVELOPE, full and with NIL fields and a group",
  "* 12 FETCH (" .. rfc_envelope .. ")\r\n"
    .. "* 13 FETCH (UID 8 ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b.example\")) "
    .. "NIL NIL ((NIL NIL \"team\" NIL)(\"Al\" \"@relay:\" \"al\" "
    .. "\"x.example\")(NIL NIL NIL NIL)) NIL NIL " .. lit("<r@x>")
    .. " NIL))\r\n",
  {
    fetch(12, { envelope = {
      date = "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
      subject = "IMAP4rev1 WG mtg summary and minutes",
      from = { gray }, sender = { gray }, reply_to = { gray },
      to = { { mailbox = "imap", host = "cac.washington.edu" } },
      cc = { { mailbox = "minutes", host = "CNRI.Reston.VA.US" },
             { name = "John Klensin", mailbox = "KLENSIN",
               host = "MIT.EDU" } },
      message_id = "<B27397-0100000@cac.washington.edu>",
    } }),
    fetch(13, { uid = 8, envelope = {
      from = { { mailbox = "a", host = "b.example" } },
      to = {
        { mailbox = "team" },
        { name = "Al", adl = "@relay:", mailbox = "al", host = "x.example" },
        {},
      },
      in_reply_to = "<r@x>",
    } }),
  })

-- As Dovecot sends it: multipart/mixed of a multipart/alternative (plain
-- and html) and a PDF attachment, with extension data everywhere.
fixture("BODYSTRUCTURE of a multipart/mixed message",
  "* 1 FETCH (UID 42 BODYSTRUCTURE (((\"text\" \"plain\" "
    .. "(\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 1234 40 NIL NIL "
    .. "NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL "
    .. "\"quoted-printable\" 5678 120 NIL NIL NIL NIL) \"alternative\" "
    .. "(\"boundary\" \"b2\") NIL NIL NIL)(\"application\" \"pdf\" "
    .. "(\"name\" \"report.pdf\") NIL \"Quarterly report\" \"base64\" 40000 "
    .. "NIL (\"attachment\" (\"filename\" \"report.pdf\" \"size\" "
    .. "\"29000\")) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL))\r\n",
  { fetch(1, { uid = 42, bodystructure = {
    type = "multipart", subtype = "mixed", params = { boundary = "b1" },
    parts = {
      { type = "multipart", subtype = "alternative",
        params = { boundary = "b2" },
        parts = {
          { type = "text", subtype = "plain", params = { charset = "utf-8" },
            encoding = "quoted-printable", size = 1234, lines = 40 },
          { type = "text", subtype = "html", params = { charset = "utf-8" },
            encoding = "quoted-printable", size = 5678, lines = 120 },
        } },
      { type = "application", subtype = "pdf",
        params = { name = "report.pdf" }, description = "Quarterly report",
        encoding = "base64", size = 40000,
        disposition = { type = "attachment",
                        params = { filename = "report.pdf",
                                   size = "29000" } } },
    },
  } }) })

fixture("BODYSTRUCTURE with every single-part extension field",
  "* 2 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
    .. "\"<id@x>\" \"desc\" \"7BIT\" 3028 92 \"md5sum\" (\"INLINE\" NIL) "
    .. "(\"en\" \"de\") \"http://loc\" \"x-ext\" (1 \"two\" NIL)))\r\n"
    .. "* 3 FETCH (BODYSTRUCTURE (\"image\" \"png\" NIL NIL NIL \"base64\" 10 "
    .. "NIL NIL \"fr\" NIL))\r\n"
    .. "* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 "
    .. "1) \"mixed\" (\"boundary\" \"x\") (\"inline\" (\"a\" \"b\")) "
    .. "\"en\" \"loc\" 7))\r\n",
  {
    fetch(2, { bodystructure = {
      type = "text", subtype = "plain", params = { charset = "US-ASCII" },
      id = "<id@x>", description = "desc", encoding = "7BIT", size = 3028,
      lines = 92, md5 = "md5sum",
      disposition = { type = "inline", params = {} },
      language = { "en", "de" }, location = "http://loc",
      extension = { "x-ext", { 1, "two", false } },
    } }),
    fetch(3, { bodystructure = {
      type = "image", subtype = "png", params = {}, encoding = "base64",
      size = 10, language = { "fr" },
    } }),
    fetch(4, { bodystructure = {
      type = "multipart", subtype = "mixed", params = { boundary = "x" },
      parts = { { type = "text", subtype = "plain", params = {},
                  encoding = "7bit", size = 1, lines = 1 } },
      disposition = { type = "inline", params = { a = "b" } },
      language = { "en" }, location = "loc", extension = { 7 },
    } }),
  })

fixture("BODY (no extension data) of a message/rfc822 part",
  "* 5 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 500 "
    .. "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
    .. "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 20 2) 12))\r\n",
  { fetch(5, { bodystructure = {
    type = "message", subtype = "rfc822", params = {}, encoding = "7BIT",
    size = 500, envelope = { subject = "inner" },
    body = { type = "text", subtype = "plain", params = {},
             encoding = "7BIT", size = 20, lines = 2 },
    lines = 12,
  } }) })

local header = "Subject: hi\r\nFrom: a@b.example\r\n\r\n"

fixture("BODY[HEADER.FIELDS (SUBJECT FROM)] as a literal",
  "* 3 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT FROM)] " .. lit(header)
    .. ")\r\n",
  { fetch(3, { uid = 9,
               body = { ["HEADER.FIELDS (SUBJECT FROM)"] = header } }) })

fixture("BODY[]<0> with its origin, and a NIL section",
  "* 4 FETCH (BODY[]<0> " .. lit("Hello") .. " BODY[1.MIME] NIL "
    .. "BODY[TEXT]<100> \"partial\")\r\n",
  { fetch(4, {
    body = { [""] = "Hello", ["1.MIME"] = false, TEXT = "partial" },
    origin = { [""] = 0, TEXT = 100 },
  }) })

local bin = "a\0b\255\233c\r\n)"

fixture("BINARY[1] as a literal8 with NUL and 8-bit bytes",
  "* 5 FETCH (BINARY[1] " .. lit8(bin) .. " BINARY.SIZE[1] 9 "
    .. "BINARY[2] NIL)\r\n",
  { fetch(5, { binary = { ["1"] = bin, ["2"] = false },
               binary_size = { ["1"] = 9 } }) })

local whole = "Subject: x\r\n\r\nbody\r\n"

fixture("RFC822, RFC822.HEADER and RFC822.TEXT",
  "* 6 FETCH (RFC822.HEADER " .. lit("Subject: x\r\n\r\n")
    .. " RFC822.TEXT \"body\" RFC822 " .. lit(whole) .. ")\r\n",
  { fetch(6, { rfc822 = whole,
               body = { HEADER = "Subject: x\r\n\r\n", TEXT = "body",
                        [""] = whole } }) })

local trap = "\r\nA0007 OK done\r\n* BYE x\r\n"

fixture("a literal that looks like responses stays data",
  "* 7 FETCH (BODY[TEXT] " .. lit(trap) .. " UID 3)\r\nA0007 OK real\r\n",
  {
    fetch(7, { body = { TEXT = trap }, uid = 3 }),
    { kind = "tagged", tag = "A0007", status = "OK", text = "real" },
  })

-- Attributes of known names with a wrong value are malformed (see
-- malformed_spec.lua); names the shapes do not know go to ext.
fixture("FETCH attributes the shapes do not name go to ext",
  "* 7 FETCH (body[text] NIL BINARY 4 Uid[1] 2 X-ODD[a] (b) X-NIL NIL)\r\n",
  {
    fetch(7, {
      body = { text = false },
      ext = { BINARY = 4, ["UID[1]"] = 2, ["X-ODD[a]"] = { "b" },
              ["X-NIL"] = false },
    }),
  })

describe("responses as Lua tables", function()
  for _, f in ipairs(fixtures) do
    it(f.name, function()
      check(f.wire, f.expected)
    end)
  end
end)

------------------------------------------------------------------------

describe("core.parse", function()
  it("returns an empty array for no input", function()
    assert.same({}, core.parse(""))
  end)

  it("returns several responses from one chunk in order", function()
    local got = core.parse("* 1 EXISTS\r\n* 2 EXISTS\r\nA1 OK x\r\n")
    assert.same({ 1, 2 }, { got[1].n, got[2].n })
    assert.equal("A1", got[3].tag)
  end)

  it("reports input that ends inside a response", function()
    local got, err = core.parse("* 1 FETCH (BODY[] {10}\r\nabc")
    assert.is_nil(got)
    assert.equal("protocol", err.kind)
    assert.is_string(err.text)
  end)

  it("delivers a malformed response marked, then goes on", function()
    for _, wire in ipairs { "* 1 FETCH (UID 1\r\n", "* 1 FETCH (UID 1))\r\n",
                            "* OK\r\n\0\r\n" } do
      local got = core.parse(wire .. "* 2 EXISTS\r\n")
      assert.is_string(got[#got - 1].malformed, wire)
      assert.same(untagged { type = "EXISTS", n = 2 }, got[#got], wire)
    end
  end)

  it("reports framing errors as protocol errors", function()
    for _, wire in ipairs { "* {x}\r\n", "* 1 FETCH (UID 1)) {5}\r\n",
                            "* 1 EXISTS\rx\r\n" } do
      local got, err = core.parse(wire)
      assert.is_nil(got, wire)
      assert.equal("protocol", err.kind, wire)
    end
  end)

  it("reports broken limits as limit errors", function()
    local cases = {
      { "* OK " .. ("x"):rep(100) .. "\r\n", { max_line = 50 } },
      { "* 1 FETCH (BODY[] " .. lit(("y"):rep(100)) .. ")\r\n",
        { max_literal = 10 } },
      { "* 1 FETCH (BODY[] " .. lit(("y"):rep(100)) .. ")\r\n",
        { max_response = 60 } },
      { "* X (((((1)))))\r\n", { max_depth = 3 } },
      { "* SEARCH " .. ("1 "):rep(50) .. "\r\n", { max_nodes = 20 } },
    }
    for _, c in ipairs(cases) do
      local got, err = core.parse(c[1], c[2])
      assert.is_nil(got)
      assert.equal("limit", err.kind)
      -- the same bytes within the limits are fine
      assert.is_table(core.parse(c[1]))
    end
  end)

  it("checks the limits table", function()
    assert.has_error(function() core.parse("", 5) end)
    for _, bad in ipairs { "x", 0, -1, 1.5, true } do
      local ok, msg = pcall(core.parse, "", { max_line = bad })
      assert.is_false(ok)
      assert.matches("max_line", msg)
    end
    local ok, msg = pcall(core.parser, { max_nodes = "10" })
    assert.is_false(ok)
    assert.matches("max_nodes", msg)
    assert.is_table(core.parse("* 1 EXISTS\r\n", { max_depth = 2.0 }))
  end)
end)

describe("core.parser", function()
  it("says when it holds part of a response", function()
    local p = core.parser()
    assert.is_false(p:busy())
    assert.same({}, p:feed("* 1 FETCH (BODY[] {5}\r\nab"))
    assert.is_true(p:busy())
    local got = p:feed("cde)\r\n* 2 EXI")
    assert.same({ fetch(1, { body = { [""] = "abcde" } }) }, got)
    assert.is_true(p:busy())
    assert.same({ untagged { type = "EXISTS", n = 2 } }, p:feed("STS\r\n"))
    assert.is_false(p:busy())
  end)

  it("raises an error table with the responses completed before it",
    function()
      local p = core.parser()
      local ok, err = pcall(p.feed, p, "* 1 EXISTS\r\n* {x}\r\n* 2 EXISTS\r\n")
      assert.is_false(ok)
      assert.equal("protocol", err.kind)
      assert.is_string(err.text)
      assert.same({ untagged { type = "EXISTS", n = 1 } }, err.responses)
      -- the stream is out of sync for good: the same error again
      local ok2, err2 = pcall(p.feed, p, "* 3 EXISTS\r\n")
      assert.is_false(ok2)
      assert.equal("protocol", err2.kind)
      assert.equal(err.text, err2.text)
      assert.is_false(p:busy())
    end)

  it("raises limit errors from feed", function()
    local p = core.parser { max_literal = 3 }
    local ok, err = pcall(p.feed, p, "* 1 FETCH (BODY[] {10}\r\n")
    assert.is_false(ok)
    assert.equal("limit", err.kind)
  end)

  it("refuses use after close, and close is idempotent", function()
    local p = core.parser()
    assert.matches("^imapsift.Parser %(", tostring(p))
    p:close()
    p:close()
    assert.equal("imapsift.Parser (closed)", tostring(p))
    assert.has_error(function() p:feed("* 1 EXISTS\r\n") end)
    local ok, msg = pcall(p.busy, p)
    assert.is_false(ok)
    assert.matches("parser is closed", msg)
    ok, msg = pcall(p.feed, p, "")
    assert.is_false(ok)
    assert.matches("parser is closed", msg)
  end)

  it("is closed by a to-be-closed variable", function()
    local kept
    do
      local p <close> = core.parser()
      kept = p
      p:feed("* 1 EX")
    end
    assert.equal("imapsift.Parser (closed)", tostring(kept))
  end)

  it("checks its arguments", function()
    local p = core.parser()
    assert.has_error(function() p:feed() end)
    assert.has_error(function() p.feed({}, "x") end)
    assert.has_error(function() core.parser("x") end)
  end)
end)

------------------------------------------------------------------------
-- Kept FETCH tables (c/lua_fetch.c): what a collected fetch holds.

-- "* i FETCH (UID i BODY[sec] {1}\r\nx)" for i = 1..n, parsed at once.
local function section_scan(n, sec_of)
  local parts = {}
  for i = 1, n do
    parts[i] = ("* %d FETCH (UID %d BODY[%s] %s)\r\n"):format(i, i,
      sec_of(i), lit("x"))
  end
  local got, err = core.parse(table.concat(parts))
  assert.is_nil(err)
  return got
end

-- The heap that the n kept responses make(1..n) gives take, per response.
local function kept_each(n, make)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local kept = make(n)
  collectgarbage("collect")
  local each = (collectgarbage("count") - before) * 1024 / n
  assert.equal(n, #kept)
  return each
end

local function kept_bytes(n, sec)
  return kept_each(n, function()
    return section_scan(n, function() return sec end)
  end)
end

-- n ENVELOPE responses whose only address is `to`.
local function envelope_scan(to)
  return function(n)
    local parts = {}
    for i = 1, n do
      parts[i] = ("* %d FETCH (ENVELOPE (NIL NIL NIL NIL NIL (%s) NIL " ..
        "NIL NIL NIL))\r\n"):format(i, to)
    end
    return assert(core.parse(table.concat(parts)))
  end
end

describe("kept FETCH tables", function()
  it("key every body table by its section, long names included", function()
    -- Ten distinct long names in turn: more than the kept copies.
    local function sec(i)
      return ("HEADER.FIELDS (FROM SUBJECT TO CC DATE MESSAGE-ID X-%d)")
        :format(i % 10)
    end
    local got = section_scan(40, sec)
    for i, r in ipairs(got) do
      assert.same({ [sec(i)] = "x" }, r.body)
    end
  end)

  it("key sections at and around the short-string limit", function()
    for _, len in ipairs{ 39, 40, 41, 512, 513, 2000 } do
      local sec = "HEADER.FIELDS (" .. ("A"):rep(len - 16) .. ")"
      assert.equal(len, #sec)
      for _, r in ipairs(section_scan(3, function() return sec end)) do
        assert.same({ [sec] = "x" }, r.body)
      end
    end
  end)

  it("share one copy of a long section name between responses", function()
    -- A copy each would cost every response at least 300 bytes more.
    local long = "HEADER.FIELDS (" .. ("X-LONG-FIELD-NAME "):rep(16) .. "A)"
    assert.is_true(#long > 300)
    local short = "HEADER.FIELDS (FROM)"
    assert.is_true(kept_bytes(2000, long) - kept_bytes(2000, short) < 100)
  end)

  it("keep RFC822 and BODY[] of a message as one string", function()
    local text = ("Subject: big\r\n\r\n" .. ("x"):rep(70) .. "\r\n")
      :rep(4000)
    collectgarbage("collect")
    local before = collectgarbage("count")
    local got = core.parse("* 1 FETCH (UID 1 RFC822 " .. lit(text) .. ")\r\n")
    collectgarbage("collect")
    local kept = (collectgarbage("count") - before) * 1024
    assert.equal(text, got[1].rfc822)
    assert.equal(text, got[1].body[""])
    assert.is_true(kept < 1.5 * #text, "kept " .. kept .. " bytes")
  end)

  it("size each address to the parts it has", function()
    -- Two slots of a table's hash (24 bytes each) for two NIL parts.
    local full = kept_each(2000,
      envelope_scan('("A" "B" "alice" "example.org")'))
    local bare = kept_each(2000,
      envelope_scan('(NIL NIL "alice" "example.org")'))
    assert.is_true(full - bare >= 40, full .. " and " .. bare)
    local got = envelope_scan('(NIL NIL "alice" "example.org")')(1)
    assert.same({ { mailbox = "alice", host = "example.org" } },
      got[1].envelope.to)
  end)

  it("size a body part's table to the fields it has", function()
    local function scan(extra)
      return function(n)
        local parts = {}
        for i = 1, n do
          parts[i] = ("* %d FETCH (UID %d%s)\r\n"):format(i, i, extra)
        end
        return assert(core.parse(table.concat(parts)))
      end
    end
    local part = ' BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "utf-8") ' ..
      'NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)'
    -- The part's table, its params and a slot more in the FETCH table:
    -- a 16-slot hash for the part's seven fields would cost 600 bytes.
    local cost = kept_each(2000, scan(part)) - kept_each(2000, scan(""))
    assert.is_true(cost < 500, cost .. " bytes")
    assert.same({ type = "text", subtype = "plain",
      params = { charset = "utf-8" }, encoding = "7BIT", size = 5,
      lines = 1 }, scan(part)(1)[1].bodystructure)
    -- A multipart's four fields fit four slots: eight cost 96 more.
    local multi = " BODYSTRUCTURE ((" .. part:sub(17) .. " (" ..
      part:sub(17) .. ' "ALTERNATIVE" ("BOUNDARY" "b") NIL NIL NIL)'
    local both = kept_each(2000, scan(multi)) - kept_each(2000, scan(""))
    assert.is_true(both - 2 * cost < 300, both .. " and " .. cost)
    local got = scan(multi)(1)[1].bodystructure
    assert.same({ "multipart", "alternative", { boundary = "b" }, 2 },
      { got.type, got.subtype, got.params, #got.parts })
  end)

  it("give every message a flags table of its own", function()
    -- Callers may change one message's flags without touching another.
    local got = core.parse("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n" ..
      "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n")
    assert.are_not.equal(got[1].flags, got[2].flags)
    got[1].flags[2] = "$Done"
    assert.same({ "\\Seen" }, got[2].flags)
  end)
end)
