-- A player reports a match's result (the consensus policy): the report is kept, a later
-- one from the same player replaces it, and the script says whether every player still
-- in the match has now reported these same scores.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players still in the match (set)
-- KEYS[3]  reports (hash: player id -> scores)
-- ARGV[1]  the reporting player's id
-- ARGV[2]  the scores, canonical msgpack (the same scores are the same bytes)
-- ARGV[3]  now, ms (the first report's time is kept in the state hash)
-- ARGV[4]  seconds the reports live if the match's state has no TTL
-- Returns  false when the match is not running (or unknown); else {agreed, first_ms}:
--          agreed 1 when every player still in the match (at least one) reported
--          ARGV[2] and every report kept (leavers' too) is ARGV[2], else 0; first_ms when
--          the match's first report arrived
-- include: all_agree_on
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[1], 'first_report_ms', ARGV[3])
-- The reports live as long as the match they belong to.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) else redis.call('EXPIRE', KEYS[3], ARGV[4]) end
local agreed = all_agree_on(KEYS[2], KEYS[3], ARGV[2]) and 1 or 0
return {agreed, tonumber(redis.call('HGET', KEYS[1], 'first_report_ms'))}
