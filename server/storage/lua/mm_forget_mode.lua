-- Take a mode out of the modes index, unless a ticket was queued in it since a moment.
-- KEYS[1]  the modes index (sorted set: mode -> when a ticket was last queued, ms)
-- ARGV[1]  the mode
-- ARGV[2]  the moment (ms): the mode stays if it was noted after it
-- Returns  1 when taken out
local noted = redis.call('ZSCORE', KEYS[1], ARGV[1])
if noted and tonumber(noted) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
