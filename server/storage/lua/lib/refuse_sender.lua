-- refuse_sender(state, players, player, rate, interval, burst, hosted): whether a player may
-- send to a match now (a member of it, the match running, its kind the one asked for, within
-- their rate limit), counting the send when they may.
-- state     the match's state hash (its 'state' field: running or ended)
-- players   the set of players who may send
-- player    the sender's id
-- rate      the sender's GCRA state key (lib/gcra.lua)
-- interval  emission interval in ms (1000 / rate per second)
-- burst     how many may arrive at once
-- hosted    '1': only to a server-run match (an input); '0': only to a relayed one (an event)
-- Returns   nil when allowed; else the refusal: {0, 'NOT_IN_MATCH'}, {0, 'MATCH_ENDED'},
--           {0, 'WRONG_KIND'} or {0, 'RATE_LIMITED', retry_ms}
-- include: gcra
local function refuse_sender(state, players, player, rate, interval, burst, hosted)
  local found = redis.call('HMGET', state, 'state', 'hosted')
  local now = found[1]
  if not now or redis.call('SISMEMBER', players, player) == 0 then
    return {0, 'NOT_IN_MATCH'}
  end
  if now ~= 'running' then return {0, 'MATCH_ENDED'} end
  if (found[2] or '0') ~= hosted then return {0, 'WRONG_KIND'} end
  local wait = gcra(rate, tonumber(interval), tonumber(burst), true)
  if wait > 0 then return {0, 'RATE_LIMITED', wait} end
  return nil
end
