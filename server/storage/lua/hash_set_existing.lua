-- Set a field of a hash that exists (an expired one is not brought back without its TTL).
-- KEYS[1]  the hash
-- ARGV[1]  field
-- ARGV[2]  value
-- ARGV[3]  'nx': only if the field is unset (a claim); 'set': always
-- Returns  the field's value afterwards, or false when the hash does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[3] == 'nx' then
  redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return redis.call('HGET', KEYS[1], ARGV[1])
