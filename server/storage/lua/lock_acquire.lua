-- Take a lock if it is free, and hand out the next fencing number with it.
-- KEYS[1]  the lock (string: holder's token, with a TTL)
-- KEYS[2]  the fencing counter (string: only ever grows)
-- ARGV[1]  our random token
-- ARGV[2]  TTL in ms
-- Returns  {1, fence} when taken; {0, ms_until_it_expires} when someone holds it
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('INCR', KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
