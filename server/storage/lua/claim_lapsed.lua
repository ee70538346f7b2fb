-- Claim one lapsed seat lease for freeing: only if it is still lapsed, and by pushing it
-- forward, so that no other node frees it at the same time and a failed attempt retries.
-- KEYS[1]  the seat-lease sorted set
-- ARGV[1]  the player id
-- ARGV[2]  now (ms)
-- ARGV[3]  when to retry if this attempt does not finish (ms)
-- Returns  1 when claimed, 0 when renewed or claimed by someone else meanwhile
local lease_end = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1')
if lease_end < 0 or lease_end > tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
