/* lua_command.h: builds commands from Lua argument lists (command.h), and
 * registers the encoder-facing functions of the Lua module.
 *
 * An argument list is a Lua array whose elements are:
 *   string          -> sent verbatim as an atom-like token (keywords,
 *                      flags, sequence sets, "BODY.PEEK[HEADER]");
 *                      CR, LF, NUL and 8-bit bytes are refused
 *   integer         -> a number
 *   { str = s }     -> an astring: atom, quoted or literal as needed
 *   { qstr = s }    -> a string: quoted or literal, never an atom
 *   { mailbox = s } -> a mailbox name given in UTF-8: encoded as modified
 *                      UTF-7 (RFC 3501 5.1.3) unless the command flags say
 *                      UTF-8 is enabled, then an astring; "INBOX" in any
 *                      case is sent as INBOX
 *   { secret = s }  -> an astring that never appears in a trace
 *   { literal = s [, binary = true] } -> always a literal (literal8)
 *   { glue = s }    -> appended to the previous token without a space
 *   array table     -> a parenthesized list of the same kinds of elements
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
 *   mutf7_encode(utf8) -> string | nil, err ; mutf7_decode(s) -> ...
 */
void isf_lua_open_command(lua_State *L);

#endif
