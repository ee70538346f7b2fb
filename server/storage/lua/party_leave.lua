-- A member goes: they left, their reconnect grace ran out, or the leader kicked them. A
-- leader who goes hands the lead to the oldest member left; the last one out ends it.
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the player who goes
-- ARGV[2]  who removes them: '' themselves (or the server: their grace ran out), else
--          the kicker, who must lead the party
-- ARGV[3]  now, ms
-- ARGV[4]  how long the party's keys live without a change, ms
-- Returns  {'ok', the party (party_snapshot)}, {'ended'} when nobody is left (the keys
--          are gone), {'not_member'}, or the kicker's role when not the leader
--          ({'gone'}, {'outsider'}, {'member'}: party_role)
-- include: party_changed, party_role, party_snapshot
if ARGV[2] ~= '' then
  local role = party_role(KEYS, ARGV[2])
  if role ~= 'leader' then return {role} end
end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return {'not_member'} end
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  return {'ended'}
end
if redis.call('HGET', KEYS[1], 'leader') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'leader', redis.call('ZRANGE', KEYS[2], 0, 0)[1])
end
party_changed(KEYS, ARGV[4])
return {'ok', party_snapshot(KEYS, ARGV[3])}
