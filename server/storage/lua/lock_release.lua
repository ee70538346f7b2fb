-- Release a lock, but only if we still hold it (it may have expired and been taken since).
-- KEYS[1]  the lock
-- ARGV[1]  our token
-- Returns  1 when released, 0 when we no longer held it
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
