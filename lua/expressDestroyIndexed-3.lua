#!lua flags=allow-oom
--[[
  expressDestroy, and the session's removal from its user's index, in one step.

  KEYS[1] session key    (string: prefix + sid)
  KEYS[2] tombstone key  (string, same slot)
  KEYS[3] user index key (zset: sid -> expiresAt, ms)
  ARGV[1] minimum tombstone lifetime, ms
  ARGV[2] sid (the index member)

  Returns 1 when a session was deleted.
  Codes: 0 NOT_FOUND (there was none; the tombstone is written and the index pruned all the same).
  Calls on the common path: 8 (PTTL, SET, DEL, ZREM, TIME, and syncIndex's ZREMRANGEBYSCORE, ZRANGE and PEXPIREAT).
  allow-oom: logout must work when Redis is full.
]]
--- @include "_time"
--- @include "_expressIndex"

local left = redis.call('PTTL', KEYS[1])
local keep = tonumber(ARGV[1])
if left > keep then keep = left end
redis.call('SET', KEYS[2], '1', 'PX', keep)
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[2])
syncIndex(KEYS[3], nowMs())
if deleted == 0 then return 0 end
return 1
