-- Unlist running matches: index entry, last-seen and summary fields, all or nothing.
-- KEYS[1]  running index (sorted set)
-- KEYS[2]  summaries (hash: id -> msgpack summary, id:playing -> count)
-- KEYS[3]  last seen online (sorted set)
-- ARGV[1..] match ids
-- Returns  how many were listed
local removed = 0
for _, id in ipairs(ARGV) do
  removed = removed + redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[2], id, id .. ':playing')
end
return removed
