#!lua flags=allow-oom
--[[
  Gives a live session a new token: the same data and expiry under a new public id; the old
  id is gone in the same step, so exactly one of several concurrent rotations wins.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public id of the current session
  ARGV[2] public id for the new token

  Returns the rotated session's value, nil when the old one is not live. If the new id is
  already live (this command re-sent after a reconnect) it is returned: rotate is idempotent.
  allow-oom: it moves a value without growing the data, and must work when Redis is full.
]]
--- @include "_time"
--- @include "_value"
--- @include "_live"
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local oldSid, newSid = ARGV[1], ARGV[2]
local now = nowMs()

local value, expiresAt = liveSession(dataKey, newSid, now)
if value then return value end

value, expiresAt = liveSession(dataKey, oldSid, now)
-- A malformed value is not moved: the caller reports it as corrupt.
if not value or expiresAt == 0 then return value end
local _, createdAt, _, idleTtl, deadline, rest = parseHeader(value)
if createdAt then
  value = buildValue(expiresAt, createdAt, now, idleTtl, deadline, string.sub(value, rest))
end

redis.call('HDEL', dataKey, oldSid)
redis.call('ZREM', indexKey, oldSid)
redis.call('HSET', dataKey, newSid, value)
redis.call('ZADD', indexKey, int(expiresAt), newSid)
prune(dataKey, indexKey, now)
return value
