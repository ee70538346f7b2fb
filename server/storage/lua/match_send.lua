-- A player's event in a match: check, rate-limit, append to the feed and publish, in one
-- round trip. The rate limit is GCRA (lib/gcra.lua), as in rate_limit.lua and input_add.lua.
-- KEYS[1]  match state (hash)
-- KEYS[2]  players who may send (set)
-- KEYS[3]  feed (stream)
-- KEYS[4]  the sender's rate state in this match (string: TAT in ms)
-- ARGV[1]  player id
-- ARGV[2]  emission interval in ms (1000 / rate per second)
-- ARGV[3]  burst
-- ARGV[4]  channel
-- ARGV[5]  the push in msgpack, all but its trailing id field
-- ARGV[6]  how many entries the feed keeps
-- ARGV[7]  seconds the feed lives, if this event creates it (a running match's keys all expire)
-- Returns  {1, id} sent; {0, 'NOT_IN_MATCH'}; {0, 'MATCH_ENDED'}; {0, 'WRONG_KIND'} (a
--          server-run match takes inputs); {0, 'RATE_LIMITED', retry_ms}
-- include: refuse_sender, append_and_publish
local refused = refuse_sender(KEYS[1], KEYS[2], ARGV[1], KEYS[4], ARGV[2], ARGV[3], '0')
if refused then return refused end

local id = append_and_publish(KEYS[3], ARGV[6], ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[7], 'NX')
return {1, id}
