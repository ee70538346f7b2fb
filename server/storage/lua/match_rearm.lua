-- A consensus deadline passed with too few reports to decide (no strict majority of the
-- roster has reported): the match plays on, and its next report starts a new wait. The
-- first report's time is forgotten only if no report came since the reports were read.
-- KEYS[1]  match state (hash)
-- KEYS[2]  reports (hash: player id -> scores)
-- ARGV[1]  how many reports there were when they were read
-- Returns  1 when the wait was forgotten; 0 when the match is not running or a report
--          came meanwhile (the caller leaves the deadline for the next round)
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HDEL', KEYS[1], 'first_report_ms')
return 1
