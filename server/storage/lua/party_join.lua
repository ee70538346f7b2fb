-- A player joins a party: an open one, or one that invited them (the invite is used up).
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the player id
-- ARGV[2]  the player's name
-- ARGV[3]  now, ms
-- ARGV[4]  how long the party's keys live without a change, ms
-- Returns  {'ok', the party (party_snapshot)} when joined, {'member', the party} when
--          already a member (a retry), {'gone'} no such party, {'closed'} not open and
--          no live invite, {'full'}
-- include: party_changed, party_snapshot
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {'member', party_snapshot(KEYS, ARGV[3])}
end
local invite = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]) or '0')
if redis.call('HGET', KEYS[1], 'open') ~= '1' and invite <= tonumber(ARGV[3]) then
  return {'closed'}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'max_size')) then
  return {'full'}
end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], party_changed(KEYS, ARGV[4]), ARGV[1])
return {'ok', party_snapshot(KEYS, ARGV[3])}
