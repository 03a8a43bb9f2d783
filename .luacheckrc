-- luacheck settings for the Lua layer, the scripts and the specs.
std = "lua54"
max_line_length = false
self = false -- methods need not use self
files["spec/"] = { std = "+busted" }
