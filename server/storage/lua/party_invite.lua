-- The leader invites a player: they may join the party (open or not) until the invite
-- expires. Live invites per party are capped; inviting again renews an invite.
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the leader asking
-- ARGV[2]  the player invited
-- ARGV[3]  now, ms
-- ARGV[4]  when the invite expires, ms
-- ARGV[5]  the most live invites a party may hold
-- ARGV[6]  how long the party's keys live without a change, ms
-- Returns  {'ok', the party (party_snapshot)}, {'already_member'} when the player is in
--          the party already, {'too_many', when the oldest live invite expires}, or the asker's role when not the leader
--          ({'gone'}, {'outsider'}, {'member'}: party_role)
-- include: party_changed, party_role, party_snapshot
local role = party_role(KEYS, ARGV[1])
if role ~= 'leader' then return {role} end
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return {'already_member'} end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[3])
local renewing = redis.call('ZSCORE', KEYS[4], ARGV[2])
if not renewing and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then
  return {'too_many', redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2]}
end
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
party_changed(KEYS, ARGV[6])
return {'ok', party_snapshot(KEYS, ARGV[3])}
