-- A rate limit: GCRA (lib/gcra.lua), a token bucket kept as one timestamp.
-- KEYS[1]  the limiter's state: theoretical arrival time (TAT) in ms
-- ARGV[1]  emission interval in ms (1000 / rate per second), may be fractional
-- ARGV[2]  burst: how many requests may arrive at once
-- ARGV[3]  optional: "0" only asks whether one more attempt would be allowed, counting
--          nothing (a key check that must wait after failures); absent or "1" counts it
-- Returns  {1, 0} when allowed, {0, retry_after_ms} when refused.
-- include: gcra
local wait = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] ~= '0')
if wait > 0 then return {0, wait} end
return {1, 0}
