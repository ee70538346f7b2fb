-- Make a socket the player's live one and count them online, stamped with the moment.
-- KEYS[1]  the player's live-socket key
-- KEYS[2]  the presence sorted set
-- ARGV[1]  the socket reference ("node_id conn_id")
-- ARGV[2]  online until, ms
-- ARGV[3]  the player id
-- Returns  {the socket it displaced or false, the moment (Redis TIME in microseconds):
--          what orders this player's match.presence announcements}
-- include: moment
local previous = redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], 'GET')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return {previous, moment()}
