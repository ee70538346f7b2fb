-- A node's heartbeat for its players' presence: online until ARGV[1]. Reports the players
-- it brings back after their lapse was taken (leased, or already dropped): their matches
-- were told they had gone, so they must hear they are back. A player whose stamp merely
-- ran out (not yet taken) is stamped quietly: nobody was told anything.
-- Two commands for the whole chunk (ZMSCORE, ZADD), not two a player: this is the
-- busiest work on the {presence} slot. The caller keeps a chunk within Lua's stack
-- (server/storage/presence.py: HEARTBEAT_CHUNK).
-- KEYS[1]  the presence sorted set (player id -> online until, ms; or -(lease end))
-- ARGV[1]  online until, ms
-- ARGV[2..] the node's player ids, each once
-- Returns  {the moment (Redis TIME in microseconds: what orders the players' match.presence
--          announcements), the player ids brought back}
-- include: moment
local back = {}
if #ARGV < 2 then return {moment(), back} end
local players = {unpack(ARGV, 2)}
local scores = redis.call('ZMSCORE', KEYS[1], unpack(players))
local stamps = {}
for i, player in ipairs(players) do
  local score = scores[i]
  if score == false or tonumber(score) < 0 then back[#back + 1] = player end
  stamps[2 * i - 1] = ARGV[1]
  stamps[2 * i] = player
end
redis.call('ZADD', KEYS[1], unpack(stamps))
return {moment(), back}
