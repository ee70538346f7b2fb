-- A player's input to a server-run match, stored for its host's next tick: only from a
-- player of the running match, within their rate limit (lib/refuse_sender.lua).
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  the match's inputs (stream)
-- KEYS[4]  the sender's input rate state in this match (string: TAT in ms)
-- ARGV[1]  player id
-- ARGV[2]  emission interval in ms (1000 / rate per second)
-- ARGV[3]  burst
-- ARGV[4]  the input's type
-- ARGV[5]  its data (msgpack)
-- ARGV[6]  about how many inputs the stream keeps (MAXLEN ~)
-- ARGV[7]  seconds the stream lives, if this input creates it
-- ARGV[8]  the most entries waiting for which an input is still taken (below ARGV[6])
-- Returns  {1, id}; or {0, 'NOT_IN_MATCH'}, {0, 'MATCH_ENDED'}, {0, 'WRONG_KIND'} (a relayed
--          match), {0, 'RATE_LIMITED', retry_ms}
-- include: refuse_sender
local refused = refuse_sender(KEYS[1], KEYS[2], ARGV[1], KEYS[4], ARGV[2], ARGV[3], '1')
if refused then return refused end
-- A backlog the host has not read (far behind, or no host yet): refused rather than
-- stored, so an input acknowledged is never trimmed unread by MAXLEN.
if redis.call('XLEN', KEYS[3]) >= tonumber(ARGV[8]) then return {0, 'RATE_LIMITED', 1000} end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
  'pl', ARGV[1], 'ty', ARGV[4], 'd', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[7], 'NX')
return {1, id}
