-- A player asks to join a server-run match: an '$attempt' entry in its input stream, in
-- order with the inputs, for the game's join_attempt at its next tick; refused while the
-- stream holds a backlog (a flood of asks from many accounts must not bury the inputs).
-- KEYS[1]  the match's inputs (stream)
-- ARGV[1]  player id
-- ARGV[2]  the asker's meta (msgpack)
-- ARGV[3]  about how many inputs the stream keeps (MAXLEN ~)
-- ARGV[4]  seconds the stream lives, if this entry creates it
-- ARGV[5]  the most entries waiting for which an ask is still taken
-- Returns  the entry id, or false when the backlog is full
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[5]) then return false end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'pl', ARGV[1],
  'ty', '$attempt', 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4], 'NX')
return id
