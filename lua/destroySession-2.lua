#!lua flags=allow-oom
--[[
  Destroys one session (logout, or revoke by public id). Also prunes the user's expired sessions.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id

  Returns 1 when a live session was destroyed, 0 when there was none (absent or already expired).
  allow-oom: it only deletes, and logout must work when Redis is full.
]]
--- @include "_time"
--- @include "_live"
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local sid = ARGV[1]
local now = nowMs()

local wasLive = liveSession(dataKey, sid, now) ~= nil
redis.call('HDEL', dataKey, sid)
redis.call('ZREM', indexKey, sid)
prune(dataKey, indexKey, now)
dropIfEmpty(dataKey, indexKey)
if wasLive then return 1 end
return 0
