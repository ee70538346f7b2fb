-- Walk the summaries a little at a time and drop those of matches no longer in the index
-- (left by an older node's unlisting that died half-way), and last-seen entries likewise.
-- KEYS[1]  running index (sorted set: match id -> started ms)
-- KEYS[2]  summaries (hash: id -> msgpack summary, id:playing -> count)
-- KEYS[3]  last seen online (sorted set: match id -> ms)
-- ARGV[1]  the summaries' scan cursor ('0' to start)
-- ARGV[2]  the last-seen scan cursor ('0' to start)
-- ARGV[3]  how many entries each scan step asks for
-- Returns  {next summaries cursor, next last-seen cursor, how many entries were dropped}
local dropped = 0
local scan = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', ARGV[3])
local fields = scan[2]
for i = 1, #fields, 2 do
  local field = fields[i]
  local id = string.match(field, '^(.*):playing$') or field
  if redis.call('ZSCORE', KEYS[1], id) == false then
    dropped = dropped + redis.call('HDEL', KEYS[2], field)
  end
end
local seen = redis.call('ZSCAN', KEYS[3], ARGV[2], 'COUNT', ARGV[3])
local entries = seen[2]
for i = 1, #entries, 2 do
  if redis.call('ZSCORE', KEYS[1], entries[i]) == false then
    dropped = dropped + redis.call('ZREM', KEYS[3], entries[i])
  end
end
return {scan[1], seen[1], dropped}
