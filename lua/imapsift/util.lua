-- imapsift.util: imaplib's module functions in Lua's shape (to be
-- filled in).
return {}
