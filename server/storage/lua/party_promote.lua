-- The leader hands the lead to another member.
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the leader asking
-- ARGV[2]  the member who leads from now on
-- ARGV[3]  now, ms
-- ARGV[4]  how long the party's keys live without a change, ms
-- Returns  {'ok', the party (party_snapshot)}, {'not_member'} when the one named is not
--          in the party, or the asker's role when not the leader ({'gone'},
--          {'outsider'}, {'member'}: party_role)
-- include: party_changed, party_role, party_snapshot
local role = party_role(KEYS, ARGV[1])
if role ~= 'leader' then return {role} end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then return {'not_member'} end
redis.call('HSET', KEYS[1], 'leader', ARGV[2])
party_changed(KEYS, ARGV[4])
return {'ok', party_snapshot(KEYS, ARGV[3])}
