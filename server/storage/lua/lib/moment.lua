-- moment(): now on Redis's clock (TIME), in microseconds, as a decimal string: what orders
-- a player's match.presence announcements (match_presence.lua compares them as numbers),
-- so every script that stamps one must write it alike.
-- Returns  the moment, e.g. '1700000000123456'
local function moment()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
