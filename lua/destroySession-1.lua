#!lua flags=allow-oom
--[[
  Destroys one session (logout, or revoke by public id). The user's key goes with its last
  session.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id

  Returns the destroyed session's expiresAt in ms (> 0): the caller tells a live session from
  an expired one on the Redis clock, so this script needs no TIME.
  Codes: 0 NOT_FOUND (no such session), -1 MALFORMED (a malformed value was there; it is gone).
  Calls on the common path: 2 for a user with no bookkeeping (HMGET, HDEL: Redis deletes a hash
  with its last field), 3 with it (HMGET, HLEN, and HDEL or DEL).
  allow-oom: it only deletes, and logout must work when Redis is full.
]]
--- @include "_value"
--- @include "_user"

local key, sid = KEYS[1], ARGV[1]

local got = redis.call('HMGET', key, sid, META)
if not got[1] then return 0 end
if got[2] and redis.call('HLEN', key) == 2 then
  -- Only the bookkeeping would be left.
  redis.call('DEL', key)
else
  redis.call('HDEL', key, sid)
end
local e = expiryOf(got[1])
if not e then return -1 end
return e
