-- tell_game(state, inputs, player, kind, data, keep, ttl): a server-run match's game hears
-- of a player's coming or going through its input stream, in order with the inputs (a
-- relayed match has no game: nothing is written).
-- state    the match's state hash (its 'hosted' field is '1' for a server-run match)
-- inputs   the match's input stream
-- player   the player's id
-- kind     '$join' or '$leave'
-- data     the entry's data in msgpack (a leave's reason)
-- keep     about how many inputs the stream keeps (MAXLEN ~)
-- ttl      seconds the stream lives, if this entry creates it
-- Returns  nothing
local function tell_game(state, inputs, player, kind, data, keep, ttl)
  if redis.call('HGET', state, 'hosted') ~= '1' then return end
  redis.call('XADD', inputs, 'MAXLEN', '~', keep, '*', 'pl', player, 'ty', kind, 'd', data)
  redis.call('EXPIRE', inputs, ttl, 'NX')
end
