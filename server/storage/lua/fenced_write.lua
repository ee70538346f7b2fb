-- Write fields of a hash guarded by a lock, refusing a holder older than the last writer.
-- Expiry alone cannot stop a holder that paused (GC, a stalled VM) past its TTL and then
-- writes as if it still held the lock; its fencing number is older, so its write is refused.
-- KEYS[1]  the guarded hash (its field 'fence' records the last writer's number)
-- ARGV[1]  our fencing number
-- ARGV[2..] field, value, field, value, ...
-- Returns  1 when written, 0 when refused (a newer holder has written)
local last = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
local mine = tonumber(ARGV[1])
if mine < last then
  return 0
end
local fields = {'fence', mine}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
