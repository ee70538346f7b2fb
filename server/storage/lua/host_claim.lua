-- Claim hosting a match whose lease is free (new, lapsed, or handed off): take the next
-- epoch (the fencing token every later commit is checked against) and the lease. Only
-- one of any number of racing claimers wins.
-- KEYS[1]  the match's hosting record (hash)
-- KEYS[2]  its epoch (string counter)
-- KEYS[3]  its lease (string '<node>:<epoch>', PX)
-- KEYS[4]  its last snapshot (hash)
-- ARGV[1]  the claiming node's id
-- ARGV[2]  the lease's length in ms
-- Returns  -1 when the match is not hosted (never opened, or expired); 0 when its lease is
--          held; else {epoch, {snapshot field, value, ...}, {record field, value, ...}}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
-- The counter lives exactly as long as the record: it never restarts under a live match.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('SET', KEYS[3], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return {epoch, redis.call('HGETALL', KEYS[4]), redis.call('HGETALL', KEYS[1])}
