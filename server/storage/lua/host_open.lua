-- Open a server-run match for hosting: its record, all of it or nothing, unless it exists
-- (a retried start). No lease yet: the first claim takes epoch 1.
-- KEYS[1]  the match's hosting record (hash)
-- ARGV[1]  seconds the record lives (the match's other hosting keys live as long)
-- ARGV[2 ..]  field, value, ... of the record (game, params, tick rate, seed)
-- Returns  1 when opened, 0 when it existed
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
