-- GCRA rate limit (a token bucket kept as one timestamp): no double burst at window edges.
-- KEYS[1]  the limiter's state: theoretical arrival time (TAT) in ms
-- ARGV[1]  emission interval in ms (1000 / rate per second), may be fractional
-- ARGV[2]  burst: how many requests may arrive at once
-- ARGV[3]  optional: "0" only asks whether one more attempt would be allowed, counting
--          nothing (a key check that must wait after failures); absent or "1" counts it
-- Returns  {1, 0} when allowed, {0, retry_after_ms} when refused.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
if ARGV[3] == '0' then
  return {1, 0}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
return {1, 0}
