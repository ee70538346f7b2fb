-- Make a match of tickets, all or none: every ticket must still be queued (one cancelled
-- or matched since the pass read it makes the whole group stale). The match is kept in
-- the mode's made hash until its node has started it, so a node dying after this
-- commit loses nothing: another node starts it.
-- KEYS[1]  the mode's tickets (hash)
-- KEYS[2]  the mode's queue (sorted set)
-- KEYS[3]  the mode's holders (hash)
-- KEYS[4]  the mode's made matches (hash: match id -> payload)
-- ARGV[1]  match id
-- ARGV[2]  the made match's payload
-- ARGV[3]  the keys' TTL (ms)
-- ARGV[4]  the number of tickets n
-- ARGV[5..4+n] the tickets; then the players
-- Returns  1 when made, 0 when stale (nothing changed)
local n = tonumber(ARGV[4])
for i = 5, 4 + n do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    return 0
  end
end
for i = 5, 4 + n do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
for i = 5 + n, #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1
