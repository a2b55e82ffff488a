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
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local sid = ARGV[1]
local now = nowMs()

local score = redis.call('ZSCORE', indexKey, sid)
local wasLive = score ~= false and tonumber(score) > now
-- Delete by id even when the index lost the entry, so no value outlives its index entry.
local removed = redis.call('HDEL', dataKey, sid)
redis.call('ZREM', indexKey, sid)
prune(dataKey, indexKey, now)
syncUserTtl(dataKey, indexKey)
if wasLive and removed == 1 then return 1 end
return 0
