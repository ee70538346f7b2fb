-- Take tickets out of a mode's queue (cancelled, expired): those still there.
-- KEYS[1]  the mode's tickets (hash)
-- KEYS[2]  the mode's queue (sorted set)
-- KEYS[3]  the mode's holders (hash: player id -> ticket id)
-- ARGV     per ticket: its id, its number of players, then its players
-- Returns  the ids of the tickets that were there and are gone now
local removed = {}
local i = 1
while i <= #ARGV do
  local id, count = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('HDEL', KEYS[1], id) == 1 then
    redis.call('ZREM', KEYS[2], id)
    removed[#removed + 1] = id
  end
  for j = i + 2, i + 1 + count do
    if redis.call('HGET', KEYS[3], ARGV[j]) == id then
      redis.call('HDEL', KEYS[3], ARGV[j])
    end
  end
  i = i + 2 + count
end
return removed
