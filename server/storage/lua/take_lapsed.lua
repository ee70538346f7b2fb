-- Take the players whose presence lapsed (their node stopped stamping them: it died), so
-- exactly one taker tells their matches they are gone.
-- KEYS[1]  the presence sorted set (player id -> online until, ms)
-- ARGV[1]  now, ms: entries at or before it have lapsed
-- ARGV[2]  at most this many (the rest wait for the next call)
-- Returns  the player ids taken
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #lapsed > 0 then redis.call('ZREM', KEYS[1], unpack(lapsed)) end
return lapsed
