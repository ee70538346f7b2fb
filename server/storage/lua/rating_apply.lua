-- Rate a match, once: move its players' ratings and their places on the mode's rating
-- board together, but only if no rating read for the computation has changed since (a
-- compare-and-set: another match of the same player, rated meanwhile on another worker,
-- makes the caller read again and recompute, so no update is lost).
-- KEYS[1]  ratings (hash: player_id -> "mu sigma games")
-- KEYS[2]  rated matches (zset: match_id -> ms), kept ARGV[3] ms
-- KEYS[3]  board scores   (zset: arrival-prefixed player id -> display rating)
-- KEYS[4]  board members  (hash: player_id -> member)
-- KEYS[5]  board names    (hash: player_id -> display name)
-- KEYS[6]  board arrivals (string: counter)
-- ARGV[1]  match_id
-- ARGV[2]  now, ms
-- ARGV[3]  how long a rated match is remembered, ms
-- ARGV[4]  how long every key lives from now on, ms (refreshed by each rated match)
-- ARGV[5]  how many players follow
-- ARGV[6..] five per player: player_id, the rating read ('' for none), the new rating,
--          the new display rating (integer), the player's display name
-- Returns  1 when rated; 0 when the match was rated already (nothing changes);
--          -1 when a rating read has changed since (nothing changes: read again)
local match_id = ARGV[1]
if redis.call('ZSCORE', KEYS[2], match_id) then return 0 end
local count = tonumber(ARGV[5])
for i = 0, count - 1 do
  local at = 6 + 5 * i
  local now_held = redis.call('HGET', KEYS[1], ARGV[at]) or ''
  if now_held ~= ARGV[at + 1] then return -1 end
end

local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now, match_id)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
for i = 0, count - 1 do
  local at = 6 + 5 * i
  local who = ARGV[at]
  redis.call('HSET', KEYS[1], who, ARGV[at + 2])
  -- The board takes the current rating ('latest'); equal ratings rank first come first
  -- (members sort by a shrinking arrival number, as lb_submit's 'desc' boards do).
  local was = redis.call('HGET', KEYS[4], who)
  if was then redis.call('ZREM', KEYS[3], was) end
  local seq = 281474976710655 - redis.call('INCR', KEYS[6])
  local entry = string.format('%012x', seq) .. who
  redis.call('ZADD', KEYS[3], tonumber(ARGV[at + 3]), entry)
  redis.call('HSET', KEYS[4], who, entry)
  redis.call('HSETNX', KEYS[5], who, ARGV[at + 4])
end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[4]) end
return 1
