#!lua flags=allow-oom
--[[
  Reads a live session and, when rolling, slides its idle expiry. The write happens only when
  at least touchAfter ms passed since the last one, so hot sessions are not rewritten per read.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id
  ARGV[2] touchAfter, ms (-1: not rolling, never write)

  Returns {value, expiresAt} for a live session, nil when there is none (absent or expired).
  allow-oom: a touch rewrites a value of the same size, and reads must survive a full Redis.
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local sid, touchAfter = ARGV[1], tonumber(ARGV[2])
local now = nowMs()

local value, expiresAt = liveSession(dataKey, indexKey, sid, now)
if not value then return nil end
if touchAfter < 0 then return {value, expiresAt} end

local createdAt, accessedAt, idleTtl, deadline, rest = parseHeader(value)
-- A malformed value is returned untouched; the caller reports it as corrupt.
if not createdAt or now - accessedAt < touchAfter then return {value, expiresAt} end

value = buildValue(createdAt, now, idleTtl, deadline, string.sub(value, rest))
redis.call('HSET', dataKey, sid, value)
local slid = expiryAt(now, idleTtl, deadline)
if slid > expiresAt then
  expiresAt = slid
  redis.call('ZADD', indexKey, int(expiresAt), sid)
end
-- A write is happening anyway: clear the user's expired sessions with it.
prune(dataKey, indexKey, now)
syncUserTtl(dataKey, indexKey)
return {value, expiresAt}
