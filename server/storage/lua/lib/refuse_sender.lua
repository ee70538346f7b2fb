-- refuse_sender(state, players, player, rate, interval, burst): whether a player may send
-- to a match now (a member of it, the match running, within their rate limit), counting
-- the send when they may.
-- state     the match's state hash (its 'state' field: running or ended)
-- players   the set of players who may send
-- player    the sender's id
-- rate      the sender's GCRA state key (lib/gcra.lua)
-- interval  emission interval in ms (1000 / rate per second)
-- burst     how many may arrive at once
-- Returns   nil when allowed; else the refusal: {0, 'NOT_IN_MATCH'}, {0, 'MATCH_ENDED'}
--           or {0, 'RATE_LIMITED', retry_ms}
-- include: gcra
local function refuse_sender(state, players, player, rate, interval, burst)
  local now = redis.call('HGET', state, 'state')
  if not now or redis.call('SISMEMBER', players, player) == 0 then
    return {0, 'NOT_IN_MATCH'}
  end
  if now ~= 'running' then return {0, 'MATCH_ENDED'} end
  local wait = gcra(rate, tonumber(interval), tonumber(burst), true)
  if wait > 0 then return {0, 'RATE_LIMITED', wait} end
  return nil
end
