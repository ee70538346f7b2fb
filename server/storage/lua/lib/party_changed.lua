-- party_changed(k, ttl_ms): count one more change of the party and keep its keys for
-- another ttl_ms (every change does both, so a party nobody touches ends by itself).
-- Takes    k: the party's four keys, as every party script gets them
-- Returns  the party's new rev (what orders its party.updated pushes; a new member's
--          join order too)
local function party_changed(k, ttl_ms)
  local rev = redis.call('HINCRBY', k[1], 'rev', 1)
  for i = 1, 4 do
    redis.call('PEXPIRE', k[i], ttl_ms)
  end
  return rev
end
