#!lua flags=allow-oom
--[[
  Gives a live session a new token: the same data and expiry under a new public id; the old
  id is gone in the same step, so exactly one of several concurrent rotations wins.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public id of the current session
  ARGV[2] public id for the new token
  ARGV[3] now: the latest the Redis clock could read when the caller sent this, ms (the new
          lastAccessedAt). Rotation never moves the expiry, so a rotation that lands on a
          session that expired in flight moves an expired session, which stays expired (the
          caller reports null): the check needs no TIME.

  Returns the rotated session's value, nil when the old one is not live. If the new id is
  already live (this command re-sent after a reconnect) it is returned: rotate is idempotent.
  A malformed value is returned unmoved; the caller reports it as corrupt.
  Codes: none.
  Calls on the common path: 3 (HMGET, HSET, HDEL). The expiry does not move, so neither
  does the bookkeeping.
  allow-oom: it moves a value without growing the data, and must work when Redis is full.
]]
--- @include "_value"

local key, oldSid, newSid, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])

local got = redis.call('HMGET', key, oldSid, newSid)
if got[2] then
  local e = expiryOf(got[2])
  if e and e > now then return got[2] end
end
local value = got[1]
if not value then return nil end
local e, createdAt, _, idleTtl, deadline, rest = headerFields(value)
if not e then return value end
if e + 0 <= now then return nil end

value = buildValue(e, createdAt, now, idleTtl, deadline, string.sub(value, rest))
redis.call('HSET', key, newSid, value)
redis.call('HDEL', key, oldSid)
return value
