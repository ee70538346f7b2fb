-- Read a feed (a stream) after an id, saying whether entries after it were trimmed away.
-- KEYS[1]  feed (stream)
-- ARGV[1]  read entries after this id ('0-0': from the oldest kept)
-- ARGV[2]  at most this many entries
-- Returns  {trimmed (0|1), {{id, {'p', push}}, ...}}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local deleted = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
end
local after_ms, after_seq = parse(ARGV[1])
local del_ms, del_seq = parse(deleted)
-- Entries up to max-deleted-entry-id may be gone; one after the asked id means a gap.
if del_ms > after_ms or (del_ms == after_ms and del_seq > after_seq) then
  return {1, {}}
end
return {0, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
