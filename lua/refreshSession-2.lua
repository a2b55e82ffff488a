#!lua flags=allow-oom
--[[
  Extends (or, with an explicit shorter TTL, shortens) a live session's idle expiry, never past
  its absolute deadline. Never re-creates a destroyed or expired session.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id
  ARGV[2] new idle TTL, seconds (0: keep the session's own idle TTL); stored for later refreshes

  Returns the new expiresAt in ms, or 0 when there is no live session, or -1 when the stored
  value is malformed (nothing is written then).
]]
--- @include "_time"
--- @include "_value"
--- @include "_live"
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local sid, ttl = ARGV[1], tonumber(ARGV[2])
local now = nowMs()

local value = liveSession(dataKey, sid, now)
if not value then return 0 end
local _, createdAt, _, idleTtl, deadline, rest = parseHeader(value)
if not createdAt then return -1 end
if ttl > 0 then idleTtl = ttl end

local expiresAt = expiryAt(now, idleTtl, deadline)
redis.call('HSET', dataKey, sid, buildValue(expiresAt, createdAt, now, idleTtl, deadline, string.sub(value, rest)))
redis.call('ZADD', indexKey, int(expiresAt), sid)
extendUserTtl(dataKey, indexKey, expiresAt)
prune(dataKey, indexKey, now)
return expiresAt
