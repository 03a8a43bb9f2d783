-- Bench job triage as an imapfilter config: mailing-list mail moves to
-- "Lists"; of the rest, subjects matching \b(invoice|receipt)\b (any case)
-- get \Flagged. The server narrows the regex's candidates first
-- (meta-searching, as the manual recommends for match_*).
-- imapfilter's own globals (it runs the config on Lua 5.2).
-- luacheck: globals options IMAP Set pipe_from
options.starttls = false   -- the bench talks plain IMAP (no TLS)
options.info = false       -- no summaries among the output

local acct = IMAP{ server = os.getenv('BENCH_HOST'),
  port = tonumber(os.getenv('BENCH_PORT')),
  username = os.getenv('BENCH_USER'), password = os.getenv('BENCH_PASSWORD') }
local inbox = acct[os.getenv('BENCH_MAILBOX')]

local lists = inbox:contain_field('List-Id', 'lists.example.org')
lists:move_messages(acct['Lists'])

local candidates = inbox:contain_subject('invoice') +
  inbox:contain_subject('receipt')
local bills = candidates:match_subject('(?i)\\b(invoice|receipt)\\b')
bills:mark_flagged()

print(('RESULT {"moved": %d, "flagged": %d}'):format(#lists, #bills))
