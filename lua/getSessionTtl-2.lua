#!lua flags=no-writes
--[[
  Time left before a session expires.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id

  Returns the ms left (>= 1) for a live session, -2 when there is none (as PTTL does), -3 when
  the stored value is malformed.
]]
--- @include "_time"
--- @include "_live"

local now = nowMs()
local value, expiresAt = liveSession(KEYS[1], ARGV[1], now)
if not value then return -2 end
if expiresAt == 0 then return -3 end
return expiresAt - now
