-- A server-run match's game accepted a player who asked to join (match.join): they join
-- its roster and may send inputs. Idempotent (a host taking the match over admits again).
-- KEYS[1]  match state (hash; 'roster': player ids, comma-separated)
-- KEYS[2]  players who may send (set)
-- ARGV[1]  player id
-- Returns  the roster after (comma-separated), or false when the match is not running
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
redis.call('SADD', KEYS[2], ARGV[1])
local roster = redis.call('HGET', KEYS[1], 'roster') or ''
if not string.find(',' .. roster .. ',', ',' .. ARGV[1] .. ',', 1, true) then
  roster = roster == '' and ARGV[1] or (roster .. ',' .. ARGV[1])
  redis.call('HSET', KEYS[1], 'roster', roster)
end
return roster
