-- List a running match: its summary, its playing count, its last-seen and its place in
-- the index, all or nothing.
-- KEYS[1]  running index (sorted set: match id -> started ms)
-- KEYS[2]  summaries (hash: id -> msgpack summary, id:playing -> count)
-- KEYS[3]  last seen online (sorted set: match id -> ms)
-- ARGV[1]  match id
-- ARGV[2]  its summary (msgpack)
-- ARGV[3]  its players (the playing count to start from)
-- ARGV[4]  started at, ms
-- Returns  1
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], ARGV[1] .. ':playing', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
