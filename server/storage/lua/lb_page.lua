-- One page of a board with names, in one round trip: the top from an offset, or around a player.
-- KEYS[1]  scores  (zset: member -> score; a member is 12 hex digits then the player id)
-- KEYS[2]  members (hash: player_id -> member)
-- KEYS[3]  names   (hash: player_id -> display name)
-- ARGV[1]  order: 'desc' | 'asc'
-- ARGV[2]  mode: 'top' | 'around' | 'rank' | 'size'
-- ARGV[3]  top: the 0-based offset; around and rank: the player id; size: unused
-- ARGV[4]  top: the page size; around: the radius; rank, size: unused
-- Returns  {first_rank, player_id, score, name, player_id, score, name, ...};
--          {} when 'around' or 'rank' names a player who is not on the board;
--          size: the number of entries on the board
if ARGV[2] == 'size' then return redis.call('ZCARD', KEYS[1]) end
local desc = ARGV[1] == 'desc'
local start, stop
if ARGV[2] == 'top' then
  start = tonumber(ARGV[3])
  stop = start + tonumber(ARGV[4]) - 1
else
  local member = redis.call('HGET', KEYS[2], ARGV[3])
  if not member then return {} end
  local rank
  if desc then rank = redis.call('ZREVRANK', KEYS[1], member)
  else rank = redis.call('ZRANK', KEYS[1], member) end
  if not rank then return {} end
  if ARGV[2] == 'rank' then
    return {rank + 1, ARGV[3], redis.call('ZSCORE', KEYS[1], member),
            redis.call('HGET', KEYS[3], ARGV[3]) or ''}
  end
  local radius = tonumber(ARGV[4])
  start = math.max(0, rank - radius)
  stop = rank + radius
end

local rows
if desc then rows = redis.call('ZREVRANGE', KEYS[1], start, stop, 'WITHSCORES')
else rows = redis.call('ZRANGE', KEYS[1], start, stop, 'WITHSCORES') end
local out = {start + 1}
if #rows == 0 then return out end
local ids = {}
for i = 1, #rows, 2 do ids[#ids + 1] = string.sub(rows[i], 13) end
local names = redis.call('HMGET', KEYS[3], unpack(ids))
for i = 1, #ids do
  out[#out + 1] = ids[i]
  out[#out + 1] = rows[2 * i]
  out[#out + 1] = names[i] or ''
end
return out
