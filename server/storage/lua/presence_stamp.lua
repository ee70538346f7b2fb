-- A node's heartbeat for its players' presence: online until ARGV[1]. Reports the players
-- it brings back after their lapse was taken (leased, or already dropped): their matches
-- were told they had gone, so they must hear they are back. A player whose stamp merely
-- ran out (not yet taken) is stamped quietly: nobody was told anything.
-- KEYS[1]  the presence sorted set (player id -> online until, ms; or -(lease end))
-- ARGV[1]  online until, ms
-- ARGV[2..] the node's player ids
-- Returns  {the moment (Redis TIME in microseconds: what orders the players' match.presence
--          announcements), the player ids brought back}
-- include: moment
local back = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score == false or tonumber(score) < 0 then back[#back + 1] = ARGV[i] end
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
end
return {moment(), back}
