-- Claim hosting a match whose lease is free (new, lapsed, or handed off): take the next
-- epoch (the fencing token every later commit is checked against) and the lease. Only
-- one of any number of racing claimers wins. A new match is placed: until its record's
-- 'place_until' (ms) only the node it names in 'place' may take it first.
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
if redis.call('EXISTS', KEYS[2]) == 0 then
  local place = redis.call('HMGET', KEYS[1], 'place', 'place_until')
  if place[1] and place[1] ~= ARGV[1] then
    local now = redis.call('TIME')
    if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) < tonumber(place[2]) then
      return 0
    end
  end
end
local epoch = redis.call('INCR', KEYS[2])
-- The counter lives exactly as long as the record: it never restarts under a live match.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('SET', KEYS[3], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
-- The snapshot's fields in a fixed order (none when there is no snapshot yet).
local snap = redis.call('HMGET', KEYS[4], 'tick', 'epoch', 'in_upto', 'out_id', 'blob')
local saved = {}
if snap[1] then
  saved = {'tick', snap[1], 'epoch', snap[2], 'in_upto', snap[3], 'out_id', snap[4],
    'blob', snap[5]}
end
return {epoch, saved, redis.call('HGETALL', KEYS[1])}
