#!lua flags=allow-oom
--[[
  Reads a live session and, when rolling, slides its idle expiry. The write happens only when
  at least touchAfter ms passed since the last one, so hot sessions are not rewritten per read.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id
  ARGV[2] touchAfter, ms (-1: not rolling, never write)

  Returns the session value (its header holds expiresAt), nil when there is none (absent or
  expired). A malformed value is returned untouched; the caller reports it as corrupt.
  allow-oom: a touch rewrites a value of the same size, and reads must survive a full Redis.
]]
-- The read path is written out here rather than through the shared helpers: it is the
-- hottest script, and helper closures cost ~1.5 us of Redis CPU per call (measured).
local dataKey, sid, touchAfter = KEYS[1], ARGV[1], tonumber(ARGV[2])
local value = redis.call('HGET', dataKey, sid)
if not value then return nil end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expiresAt = tonumber(string.match(value, '^1|(%d+)|'))
-- A malformed value is returned untouched for the caller to report as corrupt.
if not expiresAt then return value end
if expiresAt <= now then return nil end
if touchAfter < 0 then return value end

--- @include "_time"
--- @include "_value"
--- @include "_user"

local indexKey = KEYS[2]
local _, createdAt, accessedAt, idleTtl, deadline, rest = parseHeader(value)
if not createdAt or now - accessedAt < touchAfter then return value end

local slid = expiryAt(now, idleTtl, deadline)
if slid < expiresAt then slid = expiresAt end
value = buildValue(slid, createdAt, now, idleTtl, deadline, string.sub(value, rest))
redis.call('HSET', dataKey, sid, value)
if slid > expiresAt then
  redis.call('ZADD', indexKey, int(slid), sid)
  extendUserTtl(dataKey, indexKey, slid)
end
-- A write is happening anyway: clear the user's expired sessions with it.
prune(dataKey, indexKey, now)
return value
