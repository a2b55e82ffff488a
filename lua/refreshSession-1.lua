#!lua flags=allow-oom
--[[
  Extends (or, with an explicit shorter TTL, shortens) a live session's idle expiry, never past
  its absolute deadline. Never re-creates a destroyed or expired session.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id
  ARGV[2] new idle TTL, seconds (0: keep the session's own idle TTL); stored for later refreshes

  Returns the new expiresAt in ms (> 0), or a code.
  Codes: 0 NOT_FOUND (no live session), -1 MALFORMED (the stored value; nothing written).
  Calls on the common path: 3 (TIME, HMGET, HSET), and PEXPIREAT: at most once per slack, or
  on every call for a user with one session (no bookkeeping: see _user.lua).
  allow-oom: a refresh rewrites a value of the same size.
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local key, sid, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = nowMs()

local got = redis.call('HMGET', key, sid, META)
local value = got[1]
if not value then return 0 end
local e, createdAt, _, idleTtl, deadline, rest = headerFields(value)
if not e then return -1 end
if e + 0 <= now then return 0 end
if ttl > 0 then idleTtl = ARGV[2] end

local expiresAt = expiryAt(now, idleTtl, deadline)
local minE, keyE = parseMeta(got[2])
value = buildValue(expiresAt, createdAt, now, idleTtl, deadline, string.sub(value, rest))
storeSession(key, sid, value, minE, keyE, expiresAt, idleTtl, false)
return expiresAt
