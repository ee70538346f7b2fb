-- Cache-aside read with stampede protection: one reader rebuilds, the rest wait or take the stale copy.
-- KEYS[1]  the fresh copy (short TTL)
-- KEYS[2]  the stale copy (kept longer, served while someone rebuilds)
-- KEYS[3]  the rebuild lock
-- ARGV[1]  this reader's lock token
-- ARGV[2]  lock TTL in ms (a rebuilder that dies frees it by expiry)
-- Returns  {'hit', value} | {'rebuild'} | {'stale', value} | {'wait'}
local fresh = redis.call('GET', KEYS[1])
if fresh then
  return {'hit', fresh}
end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'rebuild'}
end
local stale = redis.call('GET', KEYS[2])
if stale then
  return {'stale', stale}
end
return {'wait'}
