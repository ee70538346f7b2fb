-- A proposed match whose time to accept ran out is called off, decided here against the
-- accepts as they are now (an accept racing this call either lands first, and then the
-- match stands, or is refused as too late): the tickets whose players all accepted go
-- back to the queue at their old place, unless one of their players queued again
-- meanwhile; with ARGV[3] = 1 (the proposal never reached the players) every ticket goes
-- back. The caller drops the rest.
-- KEYS[1]  the mode's tickets (hash)
-- KEYS[2]  the mode's queue (sorted set)
-- KEYS[3]  the mode's holders (hash)
-- KEYS[4]  the mode's made matches (hash)
-- KEYS[5]  the mode's accepts (hash)
-- ARGV[1]  match id
-- ARGV[2]  the keys' TTL (ms)
-- ARGV[3]  1: put every ticket back (the proposal was lost), else 0
-- ARGV[4..] per ticket: its id, when queued, payload, number of players, its players
-- Returns  -1 when the match was no longer proposed; -2 when every player accepted (the
--          match stands: nothing changed); else the ids of the tickets put back
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  return -1
end
local accepted = {}
for id in string.gmatch(redis.call('HGET', KEYS[5], ARGV[1]) or '', '%S+') do
  accepted[id] = true
end
local everyone = true
local i = 4
while i <= #ARGV do
  for j = i + 4, i + 3 + tonumber(ARGV[i + 3]) do
    if not accepted[ARGV[j]] then
      everyone = false
    end
  end
  i = i + 4 + tonumber(ARGV[i + 3])
end
if everyone then
  return -2
end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1], ARGV[1] .. ':told')
local back = {}
i = 4
while i <= #ARGV do
  local id, at, payload, count = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local keep = ARGV[3] == '1'
  if not keep then
    keep = true
    for j = i + 4, i + 3 + count do
      if not accepted[ARGV[j]] then
        keep = false
      end
    end
  end
  for j = i + 4, i + 3 + count do
    local held = redis.call('HGET', KEYS[3], ARGV[j])
    if held and redis.call('HEXISTS', KEYS[1], held) == 1 then
      keep = false
    end
  end
  if keep then
    redis.call('HSET', KEYS[1], id, payload)
    redis.call('ZADD', KEYS[2], at, id)
    for j = i + 4, i + 3 + count do
      redis.call('HSET', KEYS[3], ARGV[j], id)
    end
    back[#back + 1] = id
  end
  i = i + 4 + count
end
for k = 1, 3 do
  redis.call('PEXPIRE', KEYS[k], ARGV[2])
end
return back
