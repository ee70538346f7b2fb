-- Forget sockets' claims and count their players offline, each only if that socket is
-- still the one holding its player (a newer socket on any node may have claimed them).
-- A node releases the sockets closed in one turn together: after a mass drop, one call
-- per chunk rather than one per socket.
-- KEYS[1..n]  the players' live-socket keys
-- KEYS[n+1]   the presence sorted set
-- ARGV[1..n]  our socket references ("node_id conn_id"), in the keys' order
-- ARGV[n+1..2n] the player ids, in the same order
-- Returns  {the moment (Redis TIME in microseconds: what orders these players'
--          match.presence announcements), {1 released | 0 another socket holds the
--          player now, for each}}
-- include: moment
local n = #KEYS - 1
local online = KEYS[n + 1]
local released = {}
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', online, ARGV[n + i])
    released[i] = 1
  else
    released[i] = 0
  end
end
return {moment(), released}
