-- spec/match_spec.lua: the regex analysis in lua/imapsift/match.lua that
-- narrows set:match with a server search (one word, or an OR of one word
-- per alternative), and that narrowing on the private Dovecot.
local match = require "imapsift.match"
local msgset = require "imapsift.msgset"
local sets = require "support.sets"
-- Spare user 4, as in support/sets.lua; ctest locks the user per file.
local server = require "support.server"
server.as(4)

local function words(p, flags)
  local w = match.literal_words(p, flags)
  return w and table.concat(w, ",")
end

describe("match.literal_words", function()
  it("takes one word per alternative of the whole pattern", function()
    assert.equal("invoice,receipt", words("invoice|receipt"))
    assert.equal("invoice,receipt,bill", words("invoice|receipt|bill"))
    assert.equal("Invoice", words("Invoice|invoice"))
    assert.equal("invoice", words("invoices|invoice"))
    assert.equal("urgent,letter", words([[^urgent\b|news(letter)+]]))
  end)

  it("takes the alternatives of a group that is required", function()
    assert.equal("invoice,receipt", words([[\b(invoice|receipt)\b]]))
    assert.equal("urgent,asap", words("^(Re|Fwd): (urgent|asap)"))
    assert.equal("invoice,bill", words("(?:invoice|bill)s?"))
    assert.equal("foo,bar", words("(foo|bar)+x"))
    assert.equal("foo,bar", words("(foo|bar){1,3}x"))
    assert.equal("receipt", words("(Re|Fw): receipt"))
    assert.equal("invoice", words("(invoice|bill) invoice"))
    assert.equal("inv,receipt", words("(inv|receipt(s|z))"))
  end)

  it("still finds single words", function()
    assert.equal("invoice", words([[\binvoice\b]]))
    assert.equal("letter", words("newsy?letter"))
    assert.equal("bcd", words("a{3}bcd"))
    assert.equal("abc", words("x{abc}"))
    assert.equal("abc", words([[\pLabc]]))
    assert.equal("abc", words([[\p{L}abc]]))
    assert.equal("abc", words([[\x{41}abc\o{101}]]))
    assert.equal("invoice", words([[invoice\d<x>]]))
    assert.equal("invoice", match.literal_word("invoice"))
    assert.is_nil(match.literal_word("invoice|receipt"))
  end)

  it("gives nothing when an alternative has no certain word", function()
    assert.is_nil(words([[invoice|\d+]]))
    assert.is_nil(words("invoice|"))
    assert.is_nil(words("invoice|ab"))
    assert.is_nil(words("(Re|Fw): (urgent|.*)"))
    assert.is_nil(words("a(b|c)d"))
    assert.is_nil(words("(invoice|bill)?x"))
    assert.is_nil(words("(invoice|bill)*"))
    assert.is_nil(words("(invoice|bill){0,2}"))
    assert.is_nil(words("(invoice|bill){,2}"))
    assert.is_nil(words("i?nv|bill"))
    assert.equal("oice,bill", words("inv?oice|bill"))
  end)

  it("gives nothing for syntax it does not follow", function()
    assert.is_nil(words("(?i)invoice|receipt"))
    assert.is_nil(words("(?=invoice)receipt"))
    assert.is_nil(words("(?<!x)invoice"))
    assert.is_nil(words("(?<name>invoice)"))
    assert.is_nil(words("(*UCP)invoice"))
    assert.is_nil(words([[(a)\1invoice]]))
    assert.is_nil(words([[(?:a)\g1invoice]]))
    assert.is_nil(words([[\k<n>invoice]]))
    assert.is_nil(words([[\Qinvoice\E]]))
    assert.is_nil(words("invoice|receipt", "x"))
    assert.is_nil(words("invoice)"))
    -- "<" and "{" after \d are literal: the "|" still splits the pattern.
    assert.is_nil(words([[invoice\d<|x>]]))
    assert.is_nil(words([[invoice\d{|x}]]))
  end)

  it("keeps k and s out of words under caseless matching", function()
    -- PCRE2 matches k to U+212A and s to U+017F when caseless.
    assert.equal("task", words("task"))
    assert.equal("task", words("tasks?"))
    assert.is_nil(words("tasks?", "i"))
    assert.is_nil(words("ask|save", "i"))
    assert.is_nil(words("task", "i"))
    assert.is_nil(words("^(Re|Fwd): (urgent|asap)", "i"))
    assert.equal("invoice,receipt", words([[\b(invoice|receipt)\b]], "i"))
  end)

  it("gives up past MAX_WORDS alternatives", function()
    local many = {}
    for n = 1, match.MAX_WORDS + 1 do
      many[n] = "word" .. string.char(96 + n):rep(3)
    end
    assert.is_nil(words(table.concat(many, "|")))
    assert.equal(match.MAX_WORDS,
      #match.literal_words(table.concat(many, "|", 1, match.MAX_WORDS)))
  end)

  it("builds nested ORs of HEADER keys", function()
    assert.same({ "HEADER", "Subject", "a" },
      match.search_keys({ "a" }, "Subject"))
    assert.same({ "OR", "HEADER", "Subject", "a", "OR", "HEADER", "Subject",
      "b", "HEADER", "Subject", "c" }, match.search_keys({ "a", "b", "c" },
      "Subject"))
  end)
end)

describe("match narrowing on the server", function()
  local BOX = "s2-match"
  local SUBJECTS = { "Invoice 1", "receipt 2", "bill 3", "Re: urgent call",
    "Fwd: asap please", "invoices galore", "nothing here",
    "=?UTF-8?Q?re=C3=A7u_receipt?=", "Re: URGENT now" }
  local acct, box, u, lines

  setup(function()
    local list = {}
    for i, s in ipairs(SUBJECTS) do list[i] = { subject = s } end
    u = sets.fresh(BOX, list)
    acct = sets.account()
    box = acct:mailbox(BOX)
    lines = sets.traced(acct)
  end)

  teardown(function()
    acct:logout()
    sets.drop(BOX)
  end)

  -- The UIDs pattern matches, and the search commands sent for it.
  local function run(pattern, flags, narrow, set)
    local saved = match.literal_words
    if not narrow then match.literal_words = function() return nil end end
    for i = #lines, 1, -1 do lines[i] = nil end
    local ok, res = pcall(function()
      return (set or box:select_all()):match("subject", pattern, flags)
        :uids()
    end)
    match.literal_words = saved
    assert(ok, tostring(res))
    local searches = {}
    for _, l in ipairs(lines) do
      if l:find("UID SEARCH", 1, true) and l:find("HEADER", 1, true) then
        searches[#searches + 1] = l
      end
    end
    return res, searches
  end

  it("narrows an alternation with an OR search, losing nothing", function()
    for _, case in ipairs{
        { [[\b(invoice|receipt)\b]], nil, { u[2], u[8] } },
        { [[\b(invoice|receipt)\b]], "i", { u[1], u[2], u[8] } },
        { "^(Re|Fwd): (urgent|asap)", nil, { u[4], u[5] } },
        { "invoice|bill|receipt", "i", { u[1], u[2], u[3], u[6], u[8] } },
      } do
      local got, searches = run(case[1], case[2], true)
      local plain = run(case[1], case[2], false)
      assert.same(case[3], got)
      assert.same(plain, got)
      assert.equal(1, #searches, table.concat(lines, "\n"))
      assert.truthy(searches[1]:find("OR HEADER", 1, true), searches[1])
    end
    local _, searches = run("invoice|bill|receipt", "i", true)
    local s = searches[1]:upper():gsub('"', ""):gsub("RETURN %(ALL%) ", "")
    -- the whole mailbox: searched without a UID set
    assert.truthy(s:find("SEARCH OR HEADER SUBJECT INVOICE OR HEADER " ..
      "SUBJECT BILL HEADER SUBJECT RECEIPT", 1, true), searches[1])
  end)

  it("searches a set of most of the mailbox whole, keeping its own " ..
      "UIDs, and a small set by its UIDs", function()
    local p = box:select_all():parts()[1]
    local function subset(list)
      return msgset.new{ { mailbox = p.mailbox, uidvalidity = p.uidvalidity,
        uids = list } }
    end
    local most = table.move(u, 2, #u, 1, {}) -- all but "Invoice 1"
    local got, searches = run([[\b(invoice|receipt)\b]], "i", true,
      subset(most))
    local function plain(line) -- no quotes, no RETURN option
      return (line:upper():gsub('"', ""):gsub("RETURN %(ALL%) ", ""))
    end
    assert.same({ u[2], u[8] }, got)
    assert.equal(1, #searches)
    assert.truthy(plain(searches[1]):find("SEARCH OR HEADER", 1, true),
      searches[1])
    got, searches = run([[\b(invoice|receipt)\b]], "i", true,
      subset{ u[1], u[3] })
    assert.same({ u[1] }, got)
    assert.equal(1, #searches)
    assert.truthy(plain(searches[1]):find(("SEARCH UID %d,%d OR HEADER")
      :format(u[1], u[3]), 1, true), searches[1])
  end)

  it("does not narrow when a branch has no certain word", function()
    local got, searches = run([[invoice|\d+]], "i", true)
    assert.same(run([[invoice|\d+]], "i", false), got)
    assert.same({ u[1], u[2], u[3], u[6] }, got)
    assert.same({}, searches)
  end)
end)
