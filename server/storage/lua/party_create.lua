-- Create a party led by its creator, its only member.
-- KEYS[1]  the party's state (hash: leader, open, max_size, rev, created_ms)
-- KEYS[2]  its members (sorted set: player id -> join order, oldest first)
-- KEYS[3]  its members' names (hash: player id -> name)
-- KEYS[4]  its invites (sorted set: player id -> when the invite expires, ms)
-- ARGV[1]  the creator's player id
-- ARGV[2]  the creator's name
-- ARGV[3]  open: '1' anyone may join, '0' only those invited
-- ARGV[4]  the most members it may have
-- ARGV[5]  now, ms
-- ARGV[6]  how long its keys live without a change, ms
-- Returns  {'ok', the party (party_snapshot)}, or {'exists'} when the id is taken
-- include: party_changed, party_snapshot
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'leader', ARGV[1], 'open', ARGV[3], 'max_size', ARGV[4],
  'created_ms', ARGV[5], 'rev', 0)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], party_changed(KEYS, ARGV[6]), ARGV[1])
return {'ok', party_snapshot(KEYS, ARGV[5])}
