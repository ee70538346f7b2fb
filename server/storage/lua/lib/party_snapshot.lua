-- party_snapshot(k, now): a party as its scripts return it.
-- Takes    k: the party's four keys (state hash, members sorted set, names hash, invites
--          sorted set), as every party script gets them; now (ms): invites that expired
--          by then are left out
-- Returns  {leader, open ('1' or '0'), max_size, rev, created_ms,
--          {player id, name, ...} oldest member first, {invited player id, ...}}
local function party_snapshot(k, now)
  local s = redis.call('HMGET', k[1], 'leader', 'open', 'max_size', 'rev', 'created_ms')
  local flat = {}
  for _, id in ipairs(redis.call('ZRANGE', k[2], 0, -1)) do
    flat[#flat + 1] = id
    flat[#flat + 1] = redis.call('HGET', k[3], id) or ''
  end
  local invited = redis.call('ZRANGEBYSCORE', k[4], '(' .. now, '+inf')
  return {s[1], s[2], s[3], s[4], s[5], flat, invited}
end
