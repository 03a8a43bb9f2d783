/* lua_response.h: turns parsed responses (parser.h) into Lua tables, and
 * registers the parser-facing functions of the Lua module.
 *
 * Shapes (every table has `kind` = "untagged" | "tagged" | "continue"):
 *   tagged:    { kind, tag = "A1", status = "OK"|"NO"|"BAD", code, text }
 *   continue:  { kind, text }                  -- "+ text" (base64 or text)
 *   untagged status: { kind, type = status, status = "OK"|"NO"|"BAD"|
 *              "PREAUTH"|"BYE", code, text }
 *   code (or nil): { name = "UIDNEXT" (upper case), raw = "UIDNEXT 5",
 *              value = ... } where value is
 *       UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, APPENDLIMIT -> integer
 *       PERMANENTFLAGS, BADCHARSET, CAPABILITY -> array of strings
 *       APPENDUID -> { uidvalidity = n, uids = "set" }
 *       COPYUID   -> { uidvalidity = n, source = "set", dest = "set" }
 *       READ-ONLY, READ-WRITE, ALERT, TRYCREATE, ... -> nil
 *     and, for any code with arguments, args = generic values (below).
 *   untagged data: { kind, type = KEYWORD (upper case), ... }:
 *     "* 3 EXISTS" / RECENT / EXPUNGE   -> { type, n = 3 }
 *     CAPABILITY, ENABLED               -> { type, caps = { "IMAP4rev1", ... } }
 *     FLAGS                             -> { type, flags = { "\\Seen", ... } }
 *     LIST, LSUB                        -> { type, flags = {...},
 *              delimiter = "/" or nil, name = "wire name" (not decoded),
 *              ext = generic values of extended data, if any }
 *     SEARCH, SORT                      -> { type, nums = { 1, 2 }, modseq,
 *              partial = true on every piece of a long line but the last
 *              (see parser.h): nums of all pieces together are the
 *              result; only the last carries modseq }
 *     ESEARCH -> { type, tag = "A1" or nil, uid = true|nil, min, max,
 *              count, all = "set" or nil, modseq }
 *     STATUS  -> { type, name = "wire name", items = { messages = 3, ... } }
 *              (item names lower case)
 *     NAMESPACE -> { type, personal = { { prefix =, delimiter = } ... },
 *              other = ..., shared = ... } (NIL -> empty array)
 *     ID      -> { type, params = { name = value ... } } (NIL -> empty)
 *     "* 4 FETCH (...)" -> { type = "FETCH", seq = 4, uid, flags = {...},
 *              internaldate = "17-Jul-1996 02:44:25 -0700", size, modseq,
 *              envelope = { date, subject, from, sender, reply_to, to,
 *                  cc, bcc, in_reply_to, message_id }, addresses as arrays
 *                  of { name, adl, mailbox, host } (NIL fields absent;
 *                  group start: mailbox = group name and no host; group
 *                  end: no mailbox and no host),
 *              bodystructure = see below (from BODYSTRUCTURE or BODY),
 *              body = { [section] = bytes } for BODY[section]<origin>
 *                  (section as sent between the brackets, "" for BODY[]),
 *              origin = { [section] = n } when <n> was present,
 *              binary = { [section] = bytes }, binary_size = { [s] = n },
 *              rfc822 = bytes (RFC822; also body[""]),
 *              RFC822.HEADER -> body["HEADER"], RFC822.TEXT -> body["TEXT"],
 *              ext = { [NAME] = generic value } for anything else }
 *     anything else -> { type, n = leading number or nil,
 *              args = generic values of the remaining items }
 *   generic values: ATOM and STRING -> string, NUMBER -> integer,
 *     NIL -> false, LIST -> array.
 *   bodystructure: single part { type = "text" (lower case), subtype =
 *     "plain", params = { charset = "utf-8" } (names lower case), id,
 *     description, encoding, size, lines (text parts and message/rfc822),
 *     envelope and body (message/rfc822), md5, disposition = { type,
 *     params }, language = { ... }, location, extension = generic };
 *     multipart { type = "multipart", subtype, parts = { ... }, params,
 *     disposition, language, location, extension }.
 *
 * Malformed responses: a response whose framing is intact but whose
 * content breaks the grammar (a bad escape, an unbalanced list, a bad
 * response code, a number out of range, a broken BODYSTRUCTURE; see
 * `malformed` in parser.h) converts to
 *     { kind, tag (tagged only), status (when it got that far),
 *       type (untagged only: the status, or the keyword such as "FETCH",
 *       or ""), malformed = "why, in words; no server bytes",
 *       partial = true (a SEARCH piece; more pieces follow) }
 * and nothing else: no code, text or data, as none of it is trusted. A
 * tagged one still completes its tag, a malformed tagged OK included:
 * whoever reads responses fails the command it belongs to (kind
 * "protocol") and goes on with the session. Conversion never raises for
 * what the server sent; only Lua running out of memory can.
 */
#ifndef ISF_LUA_RESPONSE_H
#define ISF_LUA_RESPONSE_H

#include <lua.h>

#include "parser.h"

/* Push r as a Lua table (shapes above; `malformed` and `partial` as the
 * parser set them). Only Lua's own memory errors can raise here, so
 * callers must hold no C resources that would leak. */
void isf_push_response(lua_State *L, const struct isf_response *r);

/* Adds to the module table at the top of the stack:
 *   parse(bytes [, limits]) -> array of response tables | nil, err
 *   parser([limits]) -> a Parser userdata ("imapsift.Parser") with
 *       :feed(chunk) -> array of the responses completed by chunk
 *                       (malformed ones included, marked; raises a
 *                       structured error on a framing error or a broken
 *                       limit, after which the parser is failed)
 *       :busy() -> boolean, :close()
 * limits: { max_line, max_literal, max_response, max_depth } (all optional)
 */
void isf_lua_open_parser(lua_State *L); /* in lua_parser.c */

/* Reads an optional limits table at index idx into l (defaults first).
 * Raises on wrong types; call before allocating C resources. */
void isf_lua_check_limits(lua_State *L, int idx, struct isf_limits *l);

#endif
