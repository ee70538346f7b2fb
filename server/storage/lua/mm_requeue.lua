-- A proposed match not accepted in time is cancelled: the tickets whose players all
-- accepted go back to the queue at their old place (when queued), unless one of their
-- players queued again meanwhile; the rest are dropped by the caller.
-- KEYS[1]  the mode's tickets (hash)
-- KEYS[2]  the mode's queue (sorted set)
-- KEYS[3]  the mode's holders (hash)
-- KEYS[4]  the mode's made matches (hash)
-- KEYS[5]  the mode's accepts (hash)
-- ARGV[1]  match id
-- ARGV[2]  the keys' TTL (ms)
-- ARGV[3..] per ticket to put back: its id, when queued, payload, number of players,
--           then its players
-- Returns  -1 when the match was no longer proposed (nothing changed), else the ids of
--          the tickets put back
if redis.call('HDEL', KEYS[4], ARGV[1]) == 0 then
  return -1
end
redis.call('HDEL', KEYS[5], ARGV[1])
local back = {}
local i = 3
while i <= #ARGV do
  local id, at, payload, count = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local free = true
  for j = i + 4, i + 3 + count do
    local held = redis.call('HGET', KEYS[3], ARGV[j])
    if held and redis.call('HEXISTS', KEYS[1], held) == 1 then
      free = false
    end
  end
  if free then
    redis.call('HSET', KEYS[1], id, payload)
    redis.call('ZADD', KEYS[2], at, id)
    for j = i + 4, i + 3 + count do
      redis.call('HSET', KEYS[3], ARGV[j], id)
    end
    back[#back + 1] = id
  end
  i = i + 4 + count
end
for k = 1, 3 do
  redis.call('PEXPIRE', KEYS[k], ARGV[2])
end
return back
