-- A player's event in a match: check, rate-limit, append to the feed and publish, in one
-- round trip. The rate limit is GCRA, as in rate_limit.lua (scripts cannot call scripts).
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  feed (stream)
-- KEYS[4]  the sender's rate state in this match (string: TAT in ms)
-- ARGV[1]  player id
-- ARGV[2]  emission interval in ms (1000 / rate per second)
-- ARGV[3]  burst
-- ARGV[4]  channel
-- ARGV[5]  the push in msgpack, all but its trailing id field
-- ARGV[6]  how many entries the feed keeps
-- ARGV[7]  seconds the feed lives, if this event creates it (a running match's keys all expire)
-- Returns  {1, id} sent; {0, 'NOT_IN_MATCH'}; {0, 'MATCH_ENDED'}; {0, 'RATE_LIMITED', retry_ms}
local state = redis.call('HGET', KEYS[1], 'state')
if not state or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return {0, 'NOT_IN_MATCH'}
end
if state ~= 'running' then return {0, 'MATCH_ENDED'} end

local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[4]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then return {0, 'RATE_LIMITED', math.ceil(allow_at - now)} end
redis.call('SET', KEYS[4], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)

local id = redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[6], '*', 'p', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[7], 'NX')
local len = string.len(id)
local prefix = len < 32 and string.char(160 + len) or ('\217' .. string.char(len))
redis.call('SPUBLISH', ARGV[4], ARGV[5] .. '\162id' .. prefix .. id)
return {1, id}
