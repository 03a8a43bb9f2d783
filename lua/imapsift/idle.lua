-- imapsift.idle: IDLE, COMPRESS and explicit STARTTLS (to be filled in).
return {}
