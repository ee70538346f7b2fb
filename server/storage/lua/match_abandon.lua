-- End a running match with no result: its players abandoned it, or it reached the most a
-- match may run. Once, like match_end.lua: a match that is not running (ended by a result,
-- an operator, or another node's upkeep a moment ago) is left alone. The end is appended to
-- the feed and published like any event.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  feed (stream)
-- KEYS[4]  reports (hash, consensus): dropped, no result is decided
-- ARGV[1]  channel
-- ARGV[2]  the match.ended push in msgpack, all but its trailing id field
-- ARGV[3]  how many entries the feed keeps
-- ARGV[4]  the (empty) result, msgpack
-- ARGV[5]  ended at, ms
-- ARGV[6]  seconds the state, the players and the feed live from now on (no result waits)
-- ARGV[7]  why it ended: 'abandoned' or 'expired'
-- Returns  {feed id, roster}, or false when the match is not running (or unknown)
-- include: end_match
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
local id = end_match(
  {state = KEYS[1], players = KEYS[2], feed = KEYS[3], reports = KEYS[4]},
  {'result', ARGV[4], 'ended_by', ARGV[7], 'ended_ms', ARGV[5]},
  {channel = ARGV[1], head = ARGV[2], keep = ARGV[3]}, ARGV[6], ARGV[6])
return {id, redis.call('HGET', KEYS[1], 'roster')}
