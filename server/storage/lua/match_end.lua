-- End a running match with its result, once: the first result wins, later ones are refused.
-- The end is appended to the feed and published like any event.
-- KEYS[1]  match state (hash)
-- KEYS[2]  feed (stream)
-- KEYS[3]  players who may send (set): goes with the feed
-- KEYS[4]  reports (hash, consensus): nothing reads them once the match has ended
-- ARGV[1]  channel
-- ARGV[2]  the match.ended push in msgpack, all but its trailing id field
-- ARGV[3]  how many entries the feed keeps
-- ARGV[4]  the result (scores, msgpack)
-- ARGV[5]  who reported it (a player id, or 'server')
-- ARGV[6]  ended at, ms
-- ARGV[7]  seconds the match's state lives from now on (the results worker needs it)
-- ARGV[8]  seconds the match's feed (and its players set) live from now on (late readers)
-- Returns  the feed id of the end, or false when the match is not running (or unknown)
-- include: end_match
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
return end_match(
  {state = KEYS[1], players = KEYS[3], feed = KEYS[2], reports = KEYS[4]},
  {'result', ARGV[4], 'ended_by', ARGV[5], 'ended_ms', ARGV[6]},
  {channel = ARGV[1], head = ARGV[2], keep = ARGV[3]}, ARGV[7], ARGV[8])
