#!lua flags=allow-oom
--[[
  The rolling read's write: slides a live session's idle expiry and records the access, unless
  another touch did so less than touchAfter ago. getSession reads with a plain HGET and runs
  this only when the value it read says a touch is due, so a hot session costs a script once
  per touchAfter, not once per read.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id
  ARGV[2] touchAfter, ms (>= 0)

  Returns the session value (as written, or as found when no touch was due), or nil when there
  is no live session. A malformed value is returned untouched; the caller reports it as corrupt.
  Codes: none.
  Calls on the common path: 3 (TIME, HMGET, HSET), and PEXPIREAT: at most once per slack, or
  on every call for a user with one session (no bookkeeping: see _user.lua).
  allow-oom: a touch rewrites a value of the same size, and reads must survive a full Redis.
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local key, sid, touchAfter = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = nowMs()

local got = redis.call('HMGET', key, sid, META)
local value = got[1]
if not value then return nil end
local e, createdAt, accessedAt, idleTtl, deadline, rest = headerFields(value)
if not e then return value end
e = e + 0
if e <= now then return nil end
if now - accessedAt < touchAfter then return value end

local slid = expiryAt(now, idleTtl, deadline)
if slid < e then slid = e end
value = buildValue(slid, createdAt, now, idleTtl, deadline, string.sub(value, rest))
local minE, keyE = parseMeta(got[2])
storeSession(key, sid, value, minE, keyE, slid, idleTtl, false)
return value
