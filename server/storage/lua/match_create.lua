-- Store a new running match, all of it or nothing, unless it exists (a retried start).
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- ARGV[1]  seconds the match's keys live
-- ARGV[2]  number of players n
-- ARGV[3 .. 2+n]  the player ids
-- ARGV[3+n ..]    field, value, ... of the state hash
-- Returns  1 when created, 0 when it existed
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call('SADD', KEYS[2], ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
