-- imapsift: the module rule scripts require. It gathers the connection
-- object and the helpers:
--
--   local imapsift = require "imapsift"
--   local imap = imapsift.connect{
--     host = "imap.example.org",  -- default "localhost"
--     port = 993,                  -- default 993 (implicit), 143 otherwise
--     tls = "implicit",            -- "implicit" | "starttls" | "none"
--     ca_file = nil, ca_path = nil,-- default: the system trust store
--     verify = true,               -- false must be asked for (warns)
--     servername = nil,            -- name to verify, default host
--     user = "alice", password = "secret",  -- log in during connect
--     password_command = nil,      -- or: first output line of a command
--     token = nil,                 -- or: OAuth token (string or function)
--     token_command = nil,         -- or: a command printing a token
--     auth = nil,                  -- SASL mechanism, default strongest
--     debug = 0,                   -- imaplib's debug levels
--     allow_plaintext = false,     -- LOGIN over tls = "none"
--     command = nil,               -- run a command and talk over its
--                                  -- stdin/stdout instead of a socket
--     secure = false,              -- true: the command is a private
--                                  -- channel (an ssh pipe); credentials
--                                  -- may go over it without TLS
--     timeout = 60,                -- seconds for connect, read, write
--     command_timeout = 600,       -- seconds one whole command may take
--     reconnect = false,           -- true (or reconnect()'s options):
--                                  -- the next call after a lost link
--                                  -- reconnects instead of raising
--     pipeline_window = 8,         -- commands kept in flight when a long
--                                  -- set is split or commands pipelined
--     compress = "auto",           -- COMPRESS=DEFLATE after login: "auto"
--                                  -- for non-loopback TCP/TLS hosts,
--                                  -- true always, false never
--     secret_timeout = 60,         -- seconds password_command or
--                                  -- token_command may run (then killed;
--                                  -- at most 64 KiB of output)
--     trace = false,               -- true or function(dir, line)
--     limits = { max_line, max_literal, max_response, max_depth,
--                max_unsolicited, max_unsolicited_bytes, max_uids,
--                max_kept, max_kept_bytes },
--     max_line = 8000,             -- longest command line sent
--   }
-- A wrongly typed or out-of-range option raises kind "usage" before
-- anything is opened.

local core = require "imapsift.core"
local connection = require "imapsift.connection"
require "imapsift.commands"
require "imapsift.auth"
require "imapsift.extensions"
require "imapsift.idle"
require "imapsift.compress"
require "imapsift.starttls"
local reconnect = require "imapsift.reconnect"
local util = require "imapsift.util"

local M = {
  -- The one place the version lives (CMake's PROJECT_VERSION agrees).
  VERSION = "0.1.0",
  _VERSION = "imapsift 0.1.0",
  connect = connection.connect,
  Connection = connection.Connection,
  error = require "imapsift.error",
  set = require "imapsift.set",
  mime = require "imapsift.mime",
  headers = require "imapsift.headers",
  regex = core.regex,
  mutf7 = { encode = core.mutf7_encode, decode = core.mutf7_decode },
  quote = core.quote,
  core = core,
  backoff_delay = reconnect.backoff_delay,
}
-- The rules layer: accounts, mailboxes, message sets, dates.
local account = require "imapsift.account"
local dates = require "imapsift.dates"
M.account = account.new
-- finish(): the end of a script: what rules left queued (imapsift.batch)
-- is sent and checked, then every account logs out.
function M.finish()
  require("imapsift.batch").finish()
  return account.finish()
end
M.days_ago = dates.days_ago
M.dates = dates
M.criteria = require "imapsift.criteria"
M.msgset = require "imapsift.msgset"
M.IMAP = require("imapsift.imapfilter").IMAP
-- Dry runs, the record of what actions did and named rules.
local plan = require "imapsift.plan"
M.dry_run, M.plan, M.rule = plan.dry_run, plan.entries, plan.rule
-- Waiting for new mail in several mailboxes (--watch); adds Mailbox:watch.
M.watch = require "imapsift.watch"
-- What scheduled runs remember between runs (Mailbox:new()).
M.state = require "imapsift.state"
for k, v in pairs(util) do M[k] = v end

return M
