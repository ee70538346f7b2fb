-- include: append_and_publish
-- end_match(match, fields, push, state_ttl, feed_ttl): a running match ends (the caller
-- checked it was running): its state says so, its reports go (nothing reads them once it
-- has ended), the end is appended to its feed and published like any event, and its keys
-- expire.
-- match      its keys: {state = hash, players = set, feed = stream, reports = hash}
-- fields     what the state records of the end besides state 'ended': {field, value, ...}
-- push       the match.ended push: {channel = ..., head = msgpack but its id, keep = n}
-- state_ttl  seconds the state lives from now on (the results worker may need it)
-- feed_ttl   seconds the feed and the players set live from now on (late readers)
-- Returns    the feed id of the end
local function end_match(match, fields, push, state_ttl, feed_ttl)
  redis.call('HSET', match.state, 'state', 'ended', unpack(fields))
  redis.call('DEL', match.reports)
  local id = append_and_publish(match.feed, push.keep, push.channel, push.head)
  redis.call('EXPIRE', match.state, state_ttl)
  redis.call('EXPIRE', match.feed, feed_ttl)
  redis.call('EXPIRE', match.players, feed_ttl)
  return id
end
