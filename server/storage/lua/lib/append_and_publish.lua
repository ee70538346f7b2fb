-- append_and_publish(feed, keep, channel, head, extra): append a push to a capped feed (a stream)
-- and publish it, in one step: the entry's id becomes the push's id, and subscribers
-- receive pushes in feed order.
-- feed     the feed's key (stream)
-- keep     how many entries the feed keeps (older ones are trimmed)
-- channel  the channel to publish on ('' for none)
-- head     the push in msgpack, all but its trailing id field (protocol.packed_head)
-- extra    nil, or more fields of the entry {field, value, ...} that readers of the push
--          skip (a hosted match's tick, epoch and last input consumed)
-- Returns  the entry id
local function append_and_publish(feed, keep, channel, head, extra)
  local id = redis.call('XADD', feed, 'MAXLEN', keep, '*', 'p', head, unpack(extra or {}))
  if channel ~= '' then
    -- msgpack: the key "id" (fixstr) then the id as a str (fixstr, or str8 past 31 bytes).
    local len = string.len(id)
    local prefix = len < 32 and string.char(160 + len) or ('\217' .. string.char(len))
    redis.call('SPUBLISH', channel, head .. '\162id' .. prefix .. id)
  end
  return id
end
