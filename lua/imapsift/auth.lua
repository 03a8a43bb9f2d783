-- imapsift.auth: logging in with SASL mechanisms (to be filled in).
return {}
