-- A node's heartbeat for its sockets: keep each claim alive, or restore it if it vanished
-- (Redis restarted without the key); never take over a claim another socket holds.
-- One PEXPIRE a claim, not a read and a write: a claim another socket took meanwhile is
-- only kept alive a beat longer (its own node keeps it anyway), never changed.
-- KEYS[i]  the live-socket key of the node's i-th player
-- ARGV[1]  TTL in ms
-- ARGV[i+1] the node's socket reference for that player ("node_id conn_id")
-- Returns  how many claims were kept or restored (one another socket holds counts as kept).
local kept = 0
for i, key in ipairs(KEYS) do
  if redis.call('PEXPIRE', key, ARGV[1]) == 1
    or redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1], 'NX') then
    kept = kept + 1
  end
end
return kept
