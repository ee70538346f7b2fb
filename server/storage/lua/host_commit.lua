-- One tick of a hosted match: what it emitted, appended to the match's feed and published
-- in order, only if the committing host still holds the epoch (a host paused past its
-- lease and then resumed writes nothing). Each entry carries the tick, the epoch and the
-- last input the tick consumed, for a host taking over to replay from.
-- KEYS[1]  the match's epoch (string)
-- KEYS[2]  its lease (string '<node>:<epoch>', PX)
-- KEYS[3]  its feed (stream: the out feed)
-- KEYS[4]  its steps since the last snapshot (hash: 'last' -> the last tick committed;
--          tick -> last input id consumed, for each tick that consumed inputs)
-- KEYS[5]  the match's state (hash): a match ended meanwhile (abandoned, by an operator)
--          takes nothing more
-- KEYS[6]  its hosting record (hash): the label lives there
-- ARGV[1]  the committer's epoch
-- ARGV[2]  the committer's node id
-- ARGV[3]  renew the lease for this many ms ('0': leave it)
-- ARGV[4]  the tick
-- ARGV[5]  the last input id consumed so far ('' for none yet)
-- ARGV[6]  '1' when this tick consumed inputs (recorded in steps), else '0'
-- ARGV[7]  the feed's channel
-- ARGV[8]  how many entries the feed keeps
-- ARGV[9]  seconds the feed and steps live, if this commit creates them
-- ARGV[10] the game's new label in msgpack ('' when unchanged)
-- ARGV[11 ..]  the pushes, in msgpack, each all but its trailing id field
-- Returns  'FENCED' when the epoch has moved on, 'ENDED' when the match is no longer
--          running (nothing written either way); else the entry ids
-- include: append_and_publish
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'FENCED' end
if redis.call('HGET', KEYS[5], 'state') ~= 'running' then return 'ENDED' end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[6], 'label', ARGV[10]) end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[2], ARGV[2] .. ':' .. ARGV[1], 'PX', ARGV[3])
end
-- The last tick committed, even one that left no entry (the feed may be trimmed past it).
redis.call('HSET', KEYS[4], 'last', ARGV[4])
if ARGV[6] == '1' then redis.call('HSET', KEYS[4], ARGV[4], ARGV[5]) end
redis.call('EXPIRE', KEYS[4], ARGV[9], 'NX')
local extra = {'t', ARGV[4], 'e', ARGV[1], 'u', ARGV[5]}
local ids = {}
for i = 11, #ARGV do
  ids[#ids + 1] = append_and_publish(KEYS[3], ARGV[8], ARGV[7], ARGV[i], extra)
end
if #ids > 0 then redis.call('EXPIRE', KEYS[3], ARGV[9], 'NX') end
return ids
