-- Write fields of a hash guarded by a lock, refusing a holder that is no longer the newest.
-- Expiry alone cannot stop a holder that paused (GC, a stalled VM) past its TTL and then
-- writes as if it still held the lock. Its fencing number is below the last one handed
-- out, so its write is refused, whether or not the newer holder has written yet.
-- KEYS[1]  the guarded hash (its field 'fence' records the writer's number)
-- KEYS[2]  the resource's fencing counter
-- ARGV[1]  our fencing number
-- ARGV[2..] field, value, field, value, ...
-- Returns  1 when written, 0 when refused (a newer holder exists)
local mine = tonumber(ARGV[1])
local newest = tonumber(redis.call('GET', KEYS[2]) or '0')
local written = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if mine < newest or mine < written then
  return 0
end
local fields = {'fence', ARGV[1]}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
