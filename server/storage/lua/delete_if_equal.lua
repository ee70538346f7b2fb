-- Delete a key only if it still holds the value we set (a lock's token, a player's seat,
-- a cache rebuild's lock).
-- KEYS[1]  the key
-- ARGV[1]  the value we expect
-- Returns  1 when deleted, 0 when it holds something else (or nothing)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
