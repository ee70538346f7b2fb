-- A player left a running match: one fewer playing in its summary, if it is still listed
-- (an ended match is not brought back by a late leave).
-- KEYS[1]  summaries (hash)
-- ARGV[1]  the match's count field (id:playing)
-- Returns  the new count, or false when the match is not listed
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
