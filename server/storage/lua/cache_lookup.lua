-- Cache-aside read with stampede protection: one reader rebuilds, the rest wait or take the
-- previous copy, if that copy is young enough.
-- KEYS[1]  the fresh copy (short TTL)
-- KEYS[2]  the previous copy: 13 digits of the ms time it was built, then the value
-- KEYS[3]  the rebuild lock
-- ARGV[1]  this reader's lock token
-- ARGV[2]  lock TTL in ms (a rebuilder that dies frees it by expiry)
-- ARGV[3]  the oldest a previous copy may be, in ms, to be served
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
  local t = redis.call('TIME')
  local age = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    - tonumber(string.sub(stale, 1, 13))
  if age <= tonumber(ARGV[3]) then
    return {'stale', string.sub(stale, 14)}
  end
end
return {'wait'}
