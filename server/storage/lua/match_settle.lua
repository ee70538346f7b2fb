-- Decide a consensus match's result, once. The caller read the reports and chose an
-- outcome; the script ends the match only if that outcome still holds now (a report may
-- have changed since) and the match is still running (another node may have decided).
-- The end is appended to the feed and published like any event.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players still in the match (set)
-- KEYS[3]  reports (hash: player id -> scores, canonical msgpack)
-- KEYS[4]  feed (stream)
-- ARGV[1]  the outcome: 'consensus' (every player still in the match, at least one,
--          reported ARGV[2], and every report kept, leavers' too, is ARGV[2]),
--          'majority' (more than half of the roster reported ARGV[2]) or 'disputed'
--          (neither holds for any scores)
-- ARGV[2]  the scores (canonical msgpack; '' when disputed)
-- ARGV[3]  how many players the roster has
-- ARGV[4]  channel
-- ARGV[5]  the match.ended push in msgpack, all but its trailing id field
-- ARGV[6]  how many entries the feed keeps
-- ARGV[7]  ended at, ms
-- ARGV[8]  seconds the match's state lives from now on (the results worker needs it)
-- ARGV[9]  seconds the match's feed (and its players set) live from now on (late readers)
-- Returns  the feed id of the end; '' when the outcome no longer holds; false when the
--          match is not running (or unknown)
-- include: all_agree_on, end_match
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
local roster = tonumber(ARGV[3])

local function majority_for()
  -- The scores more than half of the roster reported, if any.
  local counts = {}
  local reports = redis.call('HVALS', KEYS[3])
  for _, scores in ipairs(reports) do
    counts[scores] = (counts[scores] or 0) + 1
    if counts[scores] * 2 > roster then return scores end
  end
  return nil
end

local outcome = ARGV[1]
if outcome == 'consensus' then
  if not all_agree_on(KEYS[2], KEYS[3], ARGV[2]) then return '' end
elseif outcome == 'majority' then
  if majority_for() ~= ARGV[2] then return '' end
else
  if majority_for() ~= nil then return '' end
  local first = redis.call('HGET', KEYS[3], redis.call('SRANDMEMBER', KEYS[2]) or '')
  if first and all_agree_on(KEYS[2], KEYS[3], first) then return '' end
end

local fields = {'ended_by', outcome, 'ended_ms', ARGV[7], 'disputed', '1'}
if outcome ~= 'disputed' then
  fields = {'result', ARGV[2], 'ended_by', outcome, 'ended_ms', ARGV[7]}
end
return end_match(
  {state = KEYS[1], players = KEYS[2], feed = KEYS[4], reports = KEYS[3]},
  fields, {channel = ARGV[4], head = ARGV[5], keep = ARGV[6]}, ARGV[8], ARGV[9])
