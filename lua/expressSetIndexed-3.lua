#!lua
--[[
  expressSet, and the session's entry in its user's index, in one step.

  KEYS[1] session key    (string: prefix + sid)
  KEYS[2] tombstone key  (string, same slot: written by expressDestroy)
  KEYS[3] user index key (zset: sid -> expiresAt, ms)
  ARGV[1] serialized session
  ARGV[2] TTL, seconds (0: no expiry)
  ARGV[3] sid (the index member)

  Returns 1 written.
  Codes: 0 NOT_FOUND (refused: the id was destroyed; the index is not touched then).
  Calls on the common path: 7 (EXISTS, SET, TIME, ZADD, and syncIndex's ZREMRANGEBYSCORE, ZRANGE and PEXPIREAT).
]]
--- @include "_time"
--- @include "_expressIndex"

if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
end
local now = nowMs()
indexSession(KEYS[3], ARGV[3], ttl, now)
syncIndex(KEYS[3], now)
return 1
