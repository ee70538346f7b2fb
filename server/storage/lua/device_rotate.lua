-- Give a device a new secret if the one offered is its current one: one atomic step, so
-- of two rotations at once only one wins, and a wrong secret changes nothing.
-- KEYS[1]  the device key (a hash: player_id, secret)
-- ARGV[1]  the SHA-256 (hex) of the secret offered (hashes are compared, never secrets:
--          timing tells a guesser nothing about a secret whose hash it cannot invert)
-- ARGV[2]  the SHA-256 (hex) of the new secret
-- ARGV[3]  the device's TTL in seconds (started again)
-- Returns  the player id when the secret was changed; false when the device is unknown,
--          has no secret yet (from before secrets), or the offered secret is wrong.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return false end
local stored = redis.call('HGET', KEYS[1], 'secret')
if not stored or stored ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'secret', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('HGET', KEYS[1], 'player_id')
