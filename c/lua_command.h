/* lua_command.h: builds commands from Lua argument lists (command.h), and
 * registers the encoder-facing functions of the Lua module.
 *
 * An argument list is a Lua array whose elements are:
 *   string          -> an atom when it is one (1*ATOM-CHAR: keywords such
 *                      as FLAGS, +FLAGS.SILENT, RETURN, NIL); any other
 *                      text goes as a quoted string, or a literal when it
 *                      holds CR, LF or (without utf8) 8-bit bytes, so a
 *                      plain string is always exactly one value
 *   integer         -> a number
 *   { str = s }     -> an astring: atom, quoted or literal as needed
 *   { qstr = s }    -> a string: quoted or literal, never an atom
 *   { mailbox = s } -> a mailbox name given in UTF-8: encoded as modified
 *                      UTF-7 (RFC 3501 5.1.3) unless the command flags say
 *                      UTF-8 is enabled, then an astring; "INBOX" in any
 *                      case is sent as INBOX
 *   { secret = s }  -> an astring that never appears in a trace; the wire
 *                      buffer is wiped before it is freed
 *   { literal = s [, binary = true] } -> always a literal; literal8 needs
 *                      the binary or utf8 flag (RFC 3516, RFC 6855)
 *   { flag = s }    -> a flag: "\Seen", "\Deleted", "$Label1", "Junk";
 *                      RFC 9051 flag = "\" atom / atom; "\*" is refused
 *   { seqset = s }  -> a sequence-set: "1:5,7,10:*", numbers 1..2^32-1,
 *                      or "$" (RFC 5182 SEARCHRES)
 *   { fetch = s }   -> one fetch-att, any case: ENVELOPE, FLAGS,
 *                      INTERNALDATE, RFC822[.HEADER|.SIZE|.TEXT], BODY,
 *                      BODYSTRUCTURE, UID, MODSEQ, EMAILID, THREADID,
 *                      SAVEDATE, X-GM-*, BODY[section]<partial>,
 *                      BODY.PEEK[section]<partial>, BINARY[.PEEK][part]
 *                      <partial>, BINARY.SIZE[part]; header field names
 *                      in HEADER.FIELDS (...) are atoms or quoted strings
 *   { glue = s }    -> appended to the previous token without a space;
 *                      no space, ( ) { " \, controls or 8-bit bytes
 *   { raw = s }     -> sent verbatim: the ONLY way to send unchecked
 *                      syntax, meant for command() and xatom() alone;
 *                      CR, LF, NUL, "" and a trailing literal marker
 *                      ("{5}") are refused
 *   array table     -> a parenthesized list of the same kinds of elements
 * Every check failure is ISF_EUSAGE naming the argument ("argument 3.1:
 * invalid flag ..."), and nothing is sent.
 */
#ifndef ISF_LUA_COMMAND_H
#define ISF_LUA_COMMAND_H

#include <lua.h>

#include "command.h"

/* Encodes the argument list at index idx into c (already initialised with
 * isf_cmd_init). Never raises: a bad element makes it return ISF_EUSAGE
 * with a message in e naming the argument; the caller frees c and then
 * raises. */
int isf_lua_build_args(lua_State *L, int idx, struct isf_cmd *c,
                       struct isf_error *e);

/* Adds to the module table at the top of the stack:
 *   encode(tag, name, args [, flags]) -> wire, trace, { segment ends }
 *       flags: { literal_plus, literal_minus, utf8, binary } booleans
 *   quote(s [, flags]) -> s as it would go on the wire as an astring
 *   valid(kind, s) -> true | false, reason: kind "atom", "flag", "seqset"
 *       or "fetch", the checks of the table forms above
 *   mutf7_encode(utf8) -> string | nil, err ; mutf7_decode(s) -> ...
 */
void isf_lua_open_command(lua_State *L);

#endif
