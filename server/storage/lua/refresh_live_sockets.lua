-- A node's heartbeat for its sockets: keep each claim alive, or restore it if it vanished
-- (Redis restarted without the key); never take over, nor keep alive, a claim another
-- socket holds (should that socket's node die, its claim must lapse: this node's socket,
-- displaced but still open, then gets its claim back).
-- KEYS[i]  the live-socket key of the node's i-th player
-- ARGV[1]  TTL in ms
-- ARGV[i+1] the node's socket reference for that player ("node_id conn_id")
-- Returns  how many claims were kept or restored.
local kept = 0
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])  -- ours: only its time to live changes
    kept = kept + 1
  elseif holder == false then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
    kept = kept + 1
  end
end
return kept
