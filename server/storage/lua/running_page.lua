-- A page of running matches with their summaries, in one call (match.list). Entries whose
-- match started before the cutoff are tidied first: their match's keys have expired.
-- KEYS[1]  running index (sorted set: match id -> started ms)
-- KEYS[2]  summaries (hash: id -> msgpack summary, id:playing -> count)
-- KEYS[3]  last seen online (sorted set: match id -> ms)
-- ARGV[1]  how many, newest first
-- ARGV[2]  cutoff, ms: entries started before it are removed (at most 100 per call)
-- Returns  {id, summary, playing, id, summary, playing, ...}, newest first; a summary or
--          count is false when missing (a start that died half-way)
-- include: unlist_running
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  unlist_running(KEYS[1], KEYS[2], KEYS[3], id)
end
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
local fields = {}
for _, id in ipairs(ids) do
  fields[#fields + 1] = id
  fields[#fields + 1] = id .. ':playing'
end
local values = redis.call('HMGET', KEYS[2], unpack(fields))
local page = {}
for i, id in ipairs(ids) do
  page[#page + 1] = id
  page[#page + 1] = values[2 * i - 1]
  page[#page + 1] = values[2 * i]
end
return page
