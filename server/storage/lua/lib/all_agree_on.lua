-- all_agree_on(players, reports, scores): whether a consensus match agrees on scores:
-- every player still in it (at least one) reported them, and every report kept is them.
-- Leavers' reports count too: the last player in does not decide alone.
-- players  players still in the match (set)
-- reports  reports (hash: player id -> scores, canonical msgpack)
-- scores   the scores (canonical msgpack: the same scores are the same bytes)
-- Returns  true or false
local function all_agree_on(players, reports, scores)
  local members = redis.call('SMEMBERS', players)
  if #members == 0 then return false end
  for _, player in ipairs(members) do
    if redis.call('HGET', reports, player) ~= scores then return false end
  end
  for _, other in ipairs(redis.call('HVALS', reports)) do
    if other ~= scores then return false end
  end
  return true
end
