-- A player leaves a match: they may no longer send; a running match's feed says so.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  feed (stream)
-- KEYS[4]  the match's inputs (stream): a server-run match's game hears of the leave there,
--          in order with the players' inputs ('$leave', data: the reason)
-- ARGV[1]  player id
-- ARGV[2]  channel
-- ARGV[3]  the match.left push in msgpack, all but its trailing id field
-- ARGV[4]  how many entries the feed keeps
-- ARGV[5]  seconds the feed lives, if this entry creates it
-- ARGV[6]  why, in msgpack ('left' or 'kicked')
-- ARGV[7]  about how many inputs the stream keeps (MAXLEN ~)
-- Returns  the feed id, '' when the match had ended, or false when not a player
-- include: append_and_publish
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return false end
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return '' end
if redis.call('HGET', KEYS[1], 'hosted') == '1' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'pl', ARGV[1], 'ty', '$leave',
    'd', ARGV[6])
  redis.call('EXPIRE', KEYS[4], ARGV[5], 'NX')
end
local id = append_and_publish(KEYS[3], ARGV[4], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[5], 'NX')
return id
