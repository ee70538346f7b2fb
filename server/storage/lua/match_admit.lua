-- A server-run match's game accepted a player who asked to join (match.join): they join
-- its roster and may send inputs. Once per ask: a host taking the match over replays the
-- admission, and a player who left since must not be put back.
-- KEYS[1]  match state (hash; 'roster': player ids, comma-separated; 'admitted:<player>':
--          the id of the ask last admitted)
-- KEYS[2]  players who may send (set)
-- ARGV[1]  player id
-- ARGV[2]  the ask's id in the match's input stream
-- Returns  the roster after (comma-separated); false when the match is not running or
--          this ask was admitted already
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
local field = 'admitted:' .. ARGV[1]
if redis.call('HGET', KEYS[1], field) == ARGV[2] then return false end
redis.call('HSET', KEYS[1], field, ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local roster = redis.call('HGET', KEYS[1], 'roster') or ''
if not string.find(',' .. roster .. ',', ',' .. ARGV[1] .. ',', 1, true) then
  roster = roster == '' and ARGV[1] or (roster .. ',' .. ARGV[1])
  redis.call('HSET', KEYS[1], 'roster', roster)
end
return roster
