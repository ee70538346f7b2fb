-- Queue a matchmaking ticket, unless one of its players already waits in this mode or
-- the mode's queue is full. Every key of the mode's queue lives as long as its newest
-- ticket may (a queue no node serves any more expires by itself).
-- KEYS[1]  the mode's tickets (hash: ticket id -> payload)
-- KEYS[2]  the mode's queue (sorted set: ticket id -> when queued, ms)
-- KEYS[3]  the mode's holders (hash: player id -> ticket id)
-- ARGV[1]  ticket id
-- ARGV[2]  when queued (ms)
-- ARGV[3]  payload
-- ARGV[4]  the keys' TTL (ms)
-- ARGV[5]  the most tickets the queue holds
-- ARGV[6..] the ticket's players
-- Returns  {1}; {0, "queued", player, their ticket}; {0, "full"}
for i = 6, #ARGV do
  local held = redis.call('HGET', KEYS[3], ARGV[i])
  if held and redis.call('HEXISTS', KEYS[1], held) == 1 then
    return {0, 'queued', ARGV[i], held}
  end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  return {0, 'full'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
for i = 6, #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[1])
end
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return {1}
