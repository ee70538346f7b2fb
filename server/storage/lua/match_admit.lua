-- A server-run match's game accepted a player who asked to join (match.join): they join
-- its roster and may send inputs. Once per ask: a host taking the match over replays
-- the admissions since its snapshot, and an ask older than the last one admitted (the
-- player left since, and maybe went elsewhere) must not put them back.
-- KEYS[1]  match state (hash; 'roster': player ids, comma-separated; 'admitted:<player>':
--          the stream id of the ask last admitted)
-- KEYS[2]  players who may send (set)
-- ARGV[1]  player id
-- ARGV[2]  the ask's id in the match's input stream (<ms>-<seq>)
-- Returns  1 when admitted now; 2 when this ask was admitted already and the player is
--          still in (what follows an admission may be done again); 0 otherwise (the
--          match is not running, or a later ask was admitted, or they left since)
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local function order(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  return tonumber(ms) or -1, tonumber(seq) or -1
end
local field = 'admitted:' .. ARGV[1]
local last = redis.call('HGET', KEYS[1], field)
if last then
  local lms, lseq = order(last)
  local ams, aseq = order(ARGV[2])
  if ams < lms or (ams == lms and aseq <= lseq) then
    if last == ARGV[2] and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 2 end
    return 0
  end
end
redis.call('HSET', KEYS[1], field, ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local roster = redis.call('HGET', KEYS[1], 'roster') or ''
if not string.find(',' .. roster .. ',', ',' .. ARGV[1] .. ',', 1, true) then
  roster = roster == '' and ARGV[1] or (roster .. ',' .. ARGV[1])
  redis.call('HSET', KEYS[1], 'roster', roster)
end
return 1
