-- Lease the players whose presence lapsed (their node stopped stamping them: it died or
-- stalled), so one taker at a time tells their matches they are gone. A lease is a
-- negative score, -(lease end): not online (online is a score after now), not lapsed
-- for others until the lease ends, and a claim or a heartbeat (a positive score)
-- overrides it. The taker drops the entries once told (drop_lapsed.lua); a taker that
-- failed or died leaves them to be leased again when the lease ends.
-- KEYS[1]  the presence sorted set (player id -> online until, ms; or -(lease end))
-- ARGV[1]  now, ms: entries at or before it have lapsed, leases ended at or before it too
-- ARGV[2]  at most this many (the rest wait for the next call)
-- ARGV[3]  the lease's end, ms
-- Returns  {the moment (Redis TIME in microseconds: what orders the players' match.presence
--          announcements), the player ids leased}
-- include: moment
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-' .. ARGV[1], ARGV[1], 'LIMIT', 0, ARGV[2])
for _, player in ipairs(lapsed) do
  redis.call('ZADD', KEYS[1], '-' .. ARGV[3], player)
end
return {moment(), lapsed}
