"""The only code that speaks Redis: key names, Lua scripts and the stores built on them."""
