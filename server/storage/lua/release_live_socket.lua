-- Forget a player's live socket, but only if it is still the one we hold
-- (a newer socket on any node may have claimed the player since).
-- KEYS[1]  the player's live-socket key
-- ARGV[1]  our socket reference ("node_id conn_id")
-- Returns  1 when released, 0 when another socket holds the player now.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
