-- A player of a running match went offline or came back: the match's feed says so, in
-- order with its events, and its channel carries it to every node like any event.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  feed (stream)
-- KEYS[4]  the match's inputs (stream): a server-run match's game hears of it there, in
--          order with the players' inputs ('$join' when back, '$leave' 'dropped' when gone)
-- ARGV[1]  player id
-- ARGV[2]  channel
-- ARGV[3]  the match.presence push in msgpack, all but its trailing id field
-- ARGV[4]  how many entries the feed keeps
-- ARGV[5]  seconds the feed lives, if this entry creates it
-- ARGV[6]  the moment of the change in Redis (microseconds, from the {presence} scripts):
--          an announcement older than one already made for the player is dropped, so
--          two nodes announcing at once cannot leave the feed saying the older
-- ARGV[7]  '1' when the player came back, '0' when they went
-- ARGV[8]  about how many inputs the stream keeps (MAXLEN ~)
-- Returns  the feed id, or false when the match is not running, the player left it, or a
--          later change of theirs was announced already
-- include: append_and_publish
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return false end
local field = 'presence:' .. ARGV[1]
local last = redis.call('HGET', KEYS[1], field)
if last and tonumber(last) >= tonumber(ARGV[6]) then return false end
redis.call('HSET', KEYS[1], field, ARGV[6])
if redis.call('HGET', KEYS[1], 'hosted') == '1' then
  -- msgpack: nil for a join, the string 'dropped' for a leave.
  local entry = ARGV[7] == '1' and {'$join', '\192'} or {'$leave', '\167dropped'}
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', 'pl', ARGV[1], 'ty', entry[1],
    'd', entry[2])
  redis.call('EXPIRE', KEYS[4], ARGV[5], 'NX')
end
local id = append_and_publish(KEYS[3], ARGV[4], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[5], 'NX')
return id
