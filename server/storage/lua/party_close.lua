-- The leader ends the party: every member is out, its keys are gone.
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the leader asking
-- Returns  {'ok', {the member ids, oldest first}}, or the asker's role when not the
--          leader ({'gone'}, {'outsider'}, {'member'}: party_role)
-- include: party_role
local role = party_role(KEYS, ARGV[1])
if role ~= 'leader' then return {role} end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {'ok', members}
