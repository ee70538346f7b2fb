-- Give up a rebuild: free the lock if it is still ours, so the next reader rebuilds at once.
-- KEYS[1]  the rebuild lock
-- ARGV[1]  our lock token
-- Returns  1 when freed, 0 when it was no longer ours
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
