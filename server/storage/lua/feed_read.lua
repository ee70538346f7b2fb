-- Read a feed (a stream) after an id, saying whether that id is older than the feed keeps.
-- Feeds are only ever trimmed from the oldest end (MAXLEN), never deleted from, so entries
-- after the asked id may be missing exactly when that id is older than the oldest entry
-- kept and the feed has trimmed something.
-- KEYS[1]  feed (stream)
-- ARGV[1]  read entries after this id
-- ARGV[2]  at most this many entries
-- Returns  {trimmed (0|1), {{id, {'p', push}}, ...}}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local length, added, first = 0, 0, nil
for i = 1, #info, 2 do
  if info[i] == 'length' then length = info[i + 1]
  elseif info[i] == 'entries-added' then added = info[i + 1]
  elseif info[i] == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
end
if added > length and first then
  local after_ms, after_seq = parse(ARGV[1])
  local first_ms, first_seq = parse(first)
  if after_ms < first_ms or (after_ms == first_ms and after_seq < first_seq) then
    return {1, {}}
  end
end
return {0, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
