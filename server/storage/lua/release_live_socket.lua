-- Forget a player's live socket and count them offline, but only if that socket is
-- still the one we hold (a newer socket on any node may have claimed the player).
-- KEYS[1]  the player's live-socket key
-- KEYS[2]  the presence sorted set
-- ARGV[1]  our socket reference ("node_id conn_id")
-- ARGV[2]  the player id
-- Returns  the moment when released (Redis TIME in microseconds: what orders this player's
--          match.presence announcements), 0 when another socket holds the player now.
-- include: moment
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return moment()
end
return 0
