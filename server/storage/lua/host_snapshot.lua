-- Store a hosted match's snapshot, only if the host still holds the epoch, and drop what
-- it makes needless: the inputs it has consumed and the steps before it.
-- KEYS[1]  the match's epoch (string)
-- KEYS[2]  its snapshot (hash)
-- KEYS[3]  its inputs (stream)
-- KEYS[4]  its steps since the last snapshot (hash)
-- ARGV[1]  the host's epoch
-- ARGV[2]  the tick the snapshot was taken after
-- ARGV[3]  the last input id consumed by then ('' for none)
-- ARGV[4]  the feed's last entry id by then ('' for none)
-- ARGV[5]  the blob: the tick, rng and game state (HostedMatch.snapshot)
-- ARGV[6]  seconds the snapshot lives, if this one creates it
-- Returns  1 when stored; 'FENCED' when the epoch has moved on (nothing written)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'FENCED' end
redis.call('HSET', KEYS[2], 'tick', ARGV[2], 'epoch', ARGV[1], 'in_upto', ARGV[3],
  'out_id', ARGV[4], 'blob', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[6], 'NX')
redis.call('DEL', KEYS[4])
if ARGV[3] ~= '' then
  -- MINID keeps ids from in_upto on; in_upto itself is consumed too.
  redis.call('XTRIM', KEYS[3], 'MINID', ARGV[3])
  redis.call('XDEL', KEYS[3], ARGV[3])
end
return 1
