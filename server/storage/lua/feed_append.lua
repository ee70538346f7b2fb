-- Append a push to a capped feed (a stream) and publish it, in one step: the entry's
-- id becomes the push's id, and subscribers receive pushes in feed order.
-- KEYS[1]  feed (stream)
-- ARGV[1]  channel to publish on ('' for none)
-- ARGV[2]  the push in msgpack, all but its trailing id field (protocol.packed_head)
-- ARGV[3]  how many entries the feed keeps (older ones are trimmed)
-- ARGV[4]  seconds the feed lives after this append (0: leave its expiry alone)
-- ARGV[5]  a feed whose time left is already at most this many seconds keeps it (0: none):
--          an ended room's log, shortened to its last hour, is never lengthened again
-- Returns  the entry id
-- include: append_and_publish
local id = append_and_publish(KEYS[1], ARGV[3], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  local ended_at_most = tonumber(ARGV[5])
  local left = redis.call('TTL', KEYS[1])
  -- left is -1 for a feed with no expiry yet (a new one: XADD made it just now).
  if ended_at_most == 0 or left < 0 or left > ended_at_most then
    redis.call('EXPIRE', KEYS[1], ttl)
  end
end
return id
