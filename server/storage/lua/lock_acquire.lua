-- Take a lock if it is free, and hand out the next fencing number with it.
-- Fencing numbers only grow: each is above the last one handed out and at least Redis's
-- clock in microseconds, so even a counter that was lost (expired, evicted, flushed)
-- restarts above every number given before. That lets the counter carry a TTL.
-- KEYS[1]  the lock (string: holder's token, with a TTL)
-- KEYS[2]  the fencing counter (string: the last number handed out)
-- KEYS[3]  optional: a hash the lock guards (same hash tag), read once the lock is taken,
--          so a holder's first read costs no round trip of its own
-- ARGV[1]  our random token
-- ARGV[2]  lock TTL in ms
-- ARGV[3]  counter TTL in ms (far longer than any holder can pause)
-- Returns  {1, fence} when taken (with KEYS[3]: {1, fence, {field, value, ...}}, its
--          fields in name order);
--          {0, ms_until_it_expires} when someone holds it
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local fence = math.max(last + 1, now_us)
redis.call('SET', KEYS[2], string.format('%d', fence), 'PX', ARGV[3])
if KEYS[3] then
  -- In field order: a large hash's own order is seeded per server.
  local flat = redis.call('HGETALL', KEYS[3])
  local names, values = {}, {}
  for i = 1, #flat, 2 do
    names[#names + 1] = flat[i]
    values[flat[i]] = flat[i + 1]
  end
  table.sort(names)
  local read = {}
  for _, name in ipairs(names) do
    read[#read + 1] = name
    read[#read + 1] = values[name]
  end
  return {1, fence, read}
end
return {1, fence}
