#!lua flags=allow-oom
--[[
  express-session touch with a user index: resets the session's TTL and its index entry. A
  session that is gone stays gone.

  KEYS[1] session key    (string: prefix + sid)
  KEYS[2] user index key (zset: sid -> expiresAt, ms)
  ARGV[1] TTL, seconds (>= 1)
  ARGV[2] sid (the index member)

  Returns 1 touched.
  Codes: 0 NOT_FOUND (the session does not exist).
  Calls on the common path: 6 (EXPIRE, TIME, ZADD, and syncIndex's ZREMRANGEBYSCORE, ZRANGE and PEXPIREAT).
]]
--- @include "_time"
--- @include "_expressIndex"

local ttl = tonumber(ARGV[1])
if redis.call('EXPIRE', KEYS[1], ttl) == 0 then return 0 end
local now = nowMs()
indexSession(KEYS[2], ARGV[2], ttl, now)
syncIndex(KEYS[2], now)
return 1
