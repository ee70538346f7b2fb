-- Drop lapsed players whose matches were told they are gone, unless the entry changed
-- since it was leased (the player came back, or another taker's lease replaced ours).
-- KEYS[1]  the presence sorted set
-- ARGV[1]  the lease's end, ms (the entry's score is its negation while leased)
-- ARGV[2..] the player ids
-- Returns  how many were dropped
local leased = -tonumber(ARGV[1])
local dropped = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == leased then
    redis.call('ZREM', KEYS[1], ARGV[i])
    dropped = dropped + 1
  end
end
return dropped
