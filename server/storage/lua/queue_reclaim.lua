-- Take back jobs whose worker died or gave up on them (the visibility timeout), so another
-- worker redoes them; a job that has failed too often goes to the dead letters instead.
-- A taken job with no lease yet (its worker died between taking it and leasing it, or
-- has not leased it yet) gets one now, so it is taken back one timeout later.
-- KEYS[1]  ready (list)
-- KEYS[2]  taken (list)
-- KEYS[3]  leases (hash: job -> ms deadline)
-- KEYS[4]  dead letters (list)
-- ARGV[1]  now, ms
-- ARGV[2]  visibility timeout, ms
-- ARGV[3]  tries before a job is dead
-- ARGV[4]  at most this many taken jobs are looked at
-- Returns  {jobs put back, jobs sent to the dead letters}
local now = tonumber(ARGV[1])
local back, dead = 0, 0
local jobs = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[4]), -1)
for _, job in ipairs(jobs) do
  local lease = redis.call('HGET', KEYS[3], job)
  if not lease then
    redis.call('HSET', KEYS[3], job, now + tonumber(ARGV[2]))
  elseif tonumber(lease) < now then
    redis.call('LREM', KEYS[2], 1, job)
    redis.call('HDEL', KEYS[3], job)
    local ok, decoded = pcall(cjson.decode, job)
    if not ok or type(decoded) ~= 'table' then
      redis.call('LPUSH', KEYS[4], job) -- unreadable: a person has to look at it
      dead = dead + 1
    elseif (decoded['tries'] or 0) + 1 >= tonumber(ARGV[3]) then
      decoded['tries'] = (decoded['tries'] or 0) + 1
      redis.call('LPUSH', KEYS[4], cjson.encode(decoded))
      dead = dead + 1
    else
      decoded['tries'] = (decoded['tries'] or 0) + 1
      redis.call('LPUSH', KEYS[1], cjson.encode(decoded))
      back = back + 1
    end
  end
end
return {back, dead}
