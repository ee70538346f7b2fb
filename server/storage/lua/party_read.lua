-- A party as it is now, read at once (what a matchmaker or a reconnecting member sees).
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  now, ms: invites that expired by then are left out
-- Returns  the party (party_snapshot), or false when there is no such party
-- include: party_snapshot
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return party_snapshot(KEYS, ARGV[1])
