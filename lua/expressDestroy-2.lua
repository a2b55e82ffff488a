#!lua flags=allow-oom
--[[
  express-session destroy: deletes the session and leaves a tombstone, so a request still
  holding the old session cannot write it back (connect-redis's logout race).

  KEYS[1] session key    (string: prefix + sid)
  KEYS[2] tombstone key  (string, same slot)
  ARGV[1] minimum tombstone lifetime, ms (used when the session had no TTL or was already gone)

  Returns 1 when a session was deleted.
  Codes: 0 NOT_FOUND (there was none; the tombstone is written all the same).
  Calls on the common path: 3 (PTTL, SET, DEL).
  allow-oom: logout must work when Redis is full (the tombstone is a few bytes).
]]
local left = redis.call('PTTL', KEYS[1])
local keep = tonumber(ARGV[1])
if left > keep then keep = left end
redis.call('SET', KEYS[2], '1', 'PX', keep)
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
return 1
