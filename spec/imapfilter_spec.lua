-- spec/imapfilter_spec.lua: an imapfilter-style configuration runs
-- through imapsift's aliases (lua/imapsift/imapfilter.lua) with only its
-- account line changed, against the private Dovecot.
local imapsift = require "imapsift"
local plan = require "imapsift.plan"
local errors = require "imapsift.error"
local sets = require "support.sets"
local server = require "support.server"
server.as(4)

local IN, NEWS, BILLS = "r2-if-inbox", "r2-if-news", "r2-if-bills"

describe("an imapfilter configuration", function()
  local old_log
  setup(function()
    old_log = plan.log
    plan.log = function() end
    sets.fresh(IN, {
      { from = "News <news@lists.example.com>", subject = "Weekly digest",
        append_opts = { date = "1-Jan-2020 10:00:00 +0000" } },
      { from = "News <news@lists.example.com>", subject = "Daily digest",
        append_opts = { flags = { "\\Seen" } } },
      { from = "Shop <shop@example.com>", subject = "Your invoice 42" },
      { from = "Friend <friend@example.org>", subject = "Lunch?", body = "pizza\n",
        append_opts = { flags = { "\\Seen" }, date = "1-Jan-2019 10:00:00 +0000" } },
      { from = "Shop <shop@example.com>", subject = "Receipt 7" },
    })
    sets.fresh(NEWS, {})
    sets.fresh(BILLS, {})
  end)

  teardown(function()
    plan.log = old_log
    sets.drop(IN, NEWS, BILLS)
  end)

  it("files, flags and deletes as imapfilter would", function()
    -- The account line is the only change from imapfilter.
    local account1 = imapsift.IMAP{ server = server.host, port = server.imaps_port,
      username = server.user, password = server.password, ssl = "auto",
      ca_file = server.ca }
    local inbox = account1[IN]

    local news = inbox:contain_from("news@lists.example.com")
    local old_news = news:is_older(365)
    assert.equal(1, #old_news)
    inbox:move_messages(account1[NEWS], news * inbox:is_unseen())

    local bills = inbox:match_subject("(?i)invoice") + inbox:match_subject("^Receipt")
    assert.is_true(bills:mark_flagged()) -- as imapfilter's: true
    bills:copy_messages(account1[BILLS])

    local friends = inbox:is_seen() * inbox:contain_body("pizza")
    assert.is_true(inbox:add_flags({ "$Friend" }, friends))
    inbox:delete_messages(inbox:arrived_before("01-Jan-2019") +
      inbox:is_older(365):has_keyword("$Friend"))

    assert.equal(1, #account1[NEWS]:select_all())
    assert.equal("Weekly digest",
      account1[NEWS]:select_all():messages{ "subject" }[1].subject)
    assert.equal(2, #account1[BILLS]:select_all())
    local left = {}
    for m in inbox:select_all():each{ "subject", "flags" } do
      left[#left + 1] = m.subject
    end
    assert.same({ "Daily digest", "Your invoice 42", "Receipt 7" }, left)
    assert.equal(2, #inbox:is_flagged())
    assert.equal(0, #inbox:has_keyword("$Friend"))
    assert.equal(2, #(inbox:is_unseen() + inbox:is_new()))
    assert.equal(1, #inbox:select_all():is_seen())
    assert.equal(1, #inbox:is_smaller(100000):contain_subject("daily"))
    assert.equal(0, #inbox:is_larger(100000))
    assert.equal(3, #inbox:sent_since("2020-01-01"))
    assert.equal(3, #inbox:arrived_since("01-Jan-2021"))
    account1:logout()
  end)

  it("maps IMAP{} onto account options, STARTTLS without ssl", function()
    local a = imapsift.IMAP{ server = "imap.example.org", username = "me",
      password = "pw" }
    assert.equal("imap.example.org", a.opts.host)
    assert.equal("me", a.opts.user)
    assert.equal("starttls", a.opts.tls)
    assert.is_nil(a.opts.server)
    assert.equal("me@imap.example.org", a.name)
    assert.equal("implicit", imapsift.IMAP{ server = "h", username = "u",
      password = "p", ssl = "tls1.2" }.opts.tls)
    a:logout()
  end)

  it("refuses an action alias without a message set", function()
    local account1 = sets.account()
    local ok, err = pcall(function() return account1[IN]:move_messages(account1[NEWS]) end)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "usage"), tostring(err))
    account1:logout()
  end)
end)
