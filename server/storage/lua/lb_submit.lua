-- Apply a score to a board under its operator, atomically, keeping first-come order on ties.
-- Ties: Redis orders equal scores by member, so a member is a 12-hex-digit arrival
-- number followed by the player id; the number grows for 'asc' boards and shrinks
-- for 'desc' ones (read in reverse), so whoever reached a score first ranks first.
-- KEYS[1]  scores   (zset: member -> score)
-- KEYS[2]  members  (hash: player_id -> member)
-- KEYS[3]  names    (hash: player_id -> display name)
-- KEYS[4]  arrivals (string: counter)
-- KEYS[5]  optional, what ARGV[8] says it is:
--            'once':  applied (zset: once-id -> ms), for results that must count once
--            'limit': the player's rate state (string: GCRA's TAT in ms, lib/gcra.lua),
--                     counted before anything else (a player's own submit, one round trip);
--                     on one Redis only (on a cluster it is in another slot than the board)
-- ARGV[1]  player_id
-- ARGV[2]  score (integer; for 'incr' the amount to add)
-- ARGV[3]  order: 'desc' | 'asc'
-- ARGV[4]  operator: 'best' | 'latest' | 'incr'
-- ARGV[5]  the player's display name (stored if the board period does not know them yet)
-- ARGV[6]  expire-at in ms since the epoch (0: never)
-- ARGV[7]  the largest absolute score that may be stored
-- ARGV[8]  optional: 'once' | 'limit' (with KEYS[5])
-- ARGV[9]  'once': this score's once-id (a match result's "match:player");
--          'limit': the emission interval in ms (1000 / rate per second)
-- ARGV[10] 'once': now, ms (applied ids are kept 7 days); 'limit': the burst
-- Returns  {1, stored_score, rank (1-based), improved (0|1)}, or {0} when the result is out of range;
--          a once-id already applied changes nothing and returns the standing as it is;
--          {2} when the rate limit refuses it (nothing else done; rate_limit.lua with
--          ARGV[3] '0' tells the wait)
-- include: gcra
if ARGV[8] == 'limit' then
  local wait = gcra(KEYS[5], tonumber(ARGV[9]), tonumber(ARGV[10]), true)
  if wait > 0 then return {2} end
end
local applied = ARGV[8] == 'once' and KEYS[5] or nil -- nil: not a once-only result
local player = ARGV[1]
local score = tonumber(ARGV[2])
local desc = ARGV[3] == 'desc'
local op = ARGV[4]

local old_member = redis.call('HGET', KEYS[2], player)
local old_score = nil
if old_member then
  old_score = tonumber(redis.call('ZSCORE', KEYS[1], old_member))
end

if applied then
  if redis.call('ZSCORE', applied, ARGV[9]) then
    if not old_member then return {1, 0, 0, 0} end -- applied, then the period rolled over
    local at
    if desc then at = redis.call('ZREVRANK', KEYS[1], old_member)
    else at = redis.call('ZRANK', KEYS[1], old_member) end
    return {1, old_score, at + 1, 0}
  end
end

local new_score = score
if op == 'incr' and old_score then
  new_score = old_score + score
end
if math.abs(new_score) > tonumber(ARGV[7]) then
  return {0}
end
if applied then
  local now = tonumber(ARGV[10])
  redis.call('ZADD', applied, now, ARGV[9])
  redis.call('ZREMRANGEBYSCORE', applied, '-inf', now - 7 * 86400000)
end

local function better(a, b)
  if desc then return a > b end
  return a < b
end

local changed, improved = false, 0
if old_score == nil then
  changed, improved = true, 1
elseif op == 'best' then
  if better(new_score, old_score) then changed, improved = true, 1 end
elseif new_score ~= old_score then
  changed = true
  if better(new_score, old_score) then improved = 1 end
end

local member = old_member
if changed then
  local arrival = redis.call('INCR', KEYS[4])
  if desc then arrival = 281474976710655 - arrival end -- 2^48 - 1
  member = string.format('%012x', arrival) .. player
  if old_member then redis.call('ZREM', KEYS[1], old_member) end
  redis.call('ZADD', KEYS[1], new_score, member)
  redis.call('HSET', KEYS[2], player, member)
else
  new_score = old_score
end
-- The name shown is set when the player first appears on this board period; later
-- changes arrive through lb_rename (a socket opened before a rename must not undo it).
redis.call('HSETNX', KEYS[3], player, ARGV[5])

local rank
if desc then rank = redis.call('ZREVRANK', KEYS[1], member)
else rank = redis.call('ZRANK', KEYS[1], member) end

-- Expire the period's keys after its retention. Never at a time already past (a node whose
-- clock runs behind Redis's at a period boundary would delete the board mid-script), and
-- never not at all: such a write still expires, a minute from now.
local expire_at = tonumber(ARGV[6])
-- The board period's keys only: a rate state keeps its own expiry.
if expire_at > 0 and (redis.call('PTTL', KEYS[1]) == -1 or (applied and redis.call('PTTL', applied) == -1)) then
  local t = redis.call('TIME')
  expire_at = math.max(expire_at, tonumber(t[1]) * 1000 + 60000)
  local last = applied and 5 or 4
  for i = 1, last do redis.call('PEXPIREAT', KEYS[i], string.format('%d', expire_at)) end
end
return {1, new_score, rank + 1, improved}
