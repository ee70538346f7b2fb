-- Store a rebuilt value (fresh copy, and the previous copy stamped with its build time), but
-- only while we still hold the rebuild lock: an invalidation since we started rebuilding
-- deleted the lock, and our value may be old.
-- KEYS[1]  the fresh copy
-- KEYS[2]  the previous copy (13-digit ms build time, then the value)
-- KEYS[3]  the rebuild lock
-- ARGV[1]  the value
-- ARGV[2]  fresh TTL in ms
-- ARGV[3]  previous-copy TTL in ms
-- ARGV[4]  our lock token
-- Returns  1 when stored, 0 when the lock was lost (nothing stored)
if redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return 0
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], string.format('%013d', now_ms) .. ARGV[1], 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
return 1
