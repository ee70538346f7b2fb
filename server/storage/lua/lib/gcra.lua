-- gcra(key, interval, burst, count): the GCRA rate limit (a token bucket kept as one
-- timestamp: no double burst at window edges), on Redis's clock.
-- key       the limiter's state (string: theoretical arrival time, TAT, in ms)
-- interval  emission interval in ms (1000 / rate per second), may be fractional
-- burst     how many requests may arrive at once
-- count     true counts an allowed request; false only asks whether one would be allowed,
--           changing nothing
-- Returns   0 when allowed, else how many ms until one more would be (at least 1)
local function gcra(key, interval, burst, count)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then return math.ceil(allow_at - now) end
  if count then
    redis.call('SET', key, string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
  end
  return 0
end
