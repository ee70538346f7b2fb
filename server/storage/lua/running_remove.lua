-- Unlist running matches: index entry, last-seen and summary fields, all or nothing.
-- KEYS[1]  running index (sorted set)
-- KEYS[2]  summaries (hash: id -> msgpack summary, id:playing -> count)
-- KEYS[3]  last seen online (sorted set)
-- ARGV[1..] match ids
-- Returns  how many were listed
-- include: unlist_running
local removed = 0
for _, id in ipairs(ARGV) do
  removed = removed + unlist_running(KEYS[1], KEYS[2], KEYS[3], id)
end
return removed
