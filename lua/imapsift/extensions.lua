-- imapsift.extensions: SORT, THREAD, ACL, QUOTA, METADATA, ANNOTATEMORE
-- and imaplib's remaining commands (to be filled in).
return {}
