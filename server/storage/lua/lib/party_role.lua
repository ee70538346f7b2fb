-- party_role(k, player): what the player is to the party.
-- Takes    k: the party's four keys, as every party script gets them
-- Returns  'gone' (no such party), 'outsider', 'member' or 'leader'
local function party_role(k, player)
  local leader = redis.call('HGET', k[1], 'leader')
  if not leader then return 'gone' end
  if leader == player then return 'leader' end
  if redis.call('ZSCORE', k[2], player) then return 'member' end
  return 'outsider'
end
