-- Show a player's new name on a board, if the player is on it.
-- KEYS[1]  names (hash: player_id -> display name)
-- ARGV[1]  player_id
-- ARGV[2]  the new name
-- Returns  1 when renamed, 0 when the player is not on the board
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
