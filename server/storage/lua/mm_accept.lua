-- A matched player accepts the match the matchmaker proposed (the mode asks for it).
-- KEYS[1]  the mode's made matches (hash: match id -> payload)
-- KEYS[2]  the mode's accepts (hash: match id -> accepted player ids, space-separated)
-- ARGV[1]  match id
-- ARGV[2]  the player
-- ARGV[3]  how many players must accept
-- ARGV[4]  now (ms)
-- ARGV[5]  the deadline to accept (ms): an accept from then on is too late
-- Returns  -1 when the match is no longer proposed (started, called off, or its time to
--          accept ran out); else {accepted so far, 1 when this accept was the last one
--          needed else 0}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 or tonumber(ARGV[4]) >= tonumber(ARGV[5]) then
  return -1
end
local accepted = redis.call('HGET', KEYS[2], ARGV[1]) or ''
for id in string.gmatch(accepted, '%S+') do
  if id == ARGV[2] then
    local count = select(2, string.gsub(accepted, '%S+', ''))
    return {count, 0}
  end
end
accepted = accepted .. ' ' .. ARGV[2]
redis.call('HSET', KEYS[2], ARGV[1], accepted)
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
local count = select(2, string.gsub(accepted, '%S+', ''))
if count == tonumber(ARGV[3]) then
  return {count, 1}
end
return {count, 0}
