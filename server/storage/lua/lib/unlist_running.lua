-- unlist_running(index, summaries, seen, id): take a running match out of the listing,
-- every key a listing spans (running_add.lua writes them).
-- index      running index (sorted set: match id -> started ms)
-- summaries  summaries (hash: id -> msgpack summary, id:playing -> count)
-- seen       last seen online (sorted set: match id -> ms)
-- id         the match id
-- Returns    1 when it was in the index, else 0
local function unlist_running(index, summaries, seen, id)
  local removed = redis.call('ZREM', index, id)
  redis.call('ZREM', seen, id)
  redis.call('HDEL', summaries, id, id .. ':playing')
  return removed
end
