-- Store a rebuilt value (fresh and stale copies) and free the rebuild lock if we still hold it.
-- KEYS[1]  the fresh copy
-- KEYS[2]  the stale copy
-- KEYS[3]  the rebuild lock
-- ARGV[1]  the value
-- ARGV[2]  fresh TTL in ms
-- ARGV[3]  stale TTL in ms
-- ARGV[4]  our lock token
-- Returns  1
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
if redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
return 1
