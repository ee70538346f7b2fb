-- A device's login, step one: bind the device to a player and give it a secret if it has
-- none (atomic, so two first logins of one device at once make one player and one secret:
-- the second finds the first's secret, and the caller refuses its missing one).
-- KEYS[1]  the device key (a hash: player_id, secret; a string holding the player id
--          alone before device secrets)
-- ARGV[1]  the player id to bind if the device is new
-- ARGV[2]  the SHA-256 (hex) of a new secret, stored when the device has none
-- ARGV[3]  the device's TTL in seconds (set whenever this script writes)
-- ARGV[4]  '1': give a device stored before secrets (a string) its secret now;
--          '0': leave it be (the caller checks the player is not banned first)
-- Returns  {player_id, stored secret hash ('' when ARGV[2] was stored now), state}
--          state: 'new' (the secret ARGV[2] was stored now), 'known' (compare the stored
--          hash), 'legacy' (a string key left untouched: call again with ARGV[4] = '1')
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  redis.call('HSET', KEYS[1], 'player_id', ARGV[1], 'secret', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {ARGV[1], '', 'new'}
end
if kind == 'string' then
  local player_id = redis.call('GET', KEYS[1])
  if ARGV[4] ~= '1' then return {player_id, '', 'legacy'} end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'player_id', player_id, 'secret', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {player_id, '', 'new'}
end
local player_id = redis.call('HGET', KEYS[1], 'player_id')
local secret = redis.call('HGET', KEYS[1], 'secret')
if not secret then
  -- A hash without a secret is never written; treat it as a device from before secrets.
  if ARGV[4] ~= '1' then return {player_id, '', 'legacy'} end
  redis.call('HSET', KEYS[1], 'secret', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {player_id, '', 'new'}
end
return {player_id, secret, 'known'}
