#!lua
--[[
  express-session set: writes the serialized session under prefix + sid, unless a logout has
  destroyed this id (a request that loaded the session before the logout must not bring it back).

  KEYS[1] session key    (string: prefix + sid, exactly as connect-redis stores it)
  KEYS[2] tombstone key  (string, same slot: written by expressDestroy)
  ARGV[1] serialized session
  ARGV[2] TTL, seconds (0: no expiry, for disableTTL)

  Returns 1 written.
  Codes: 0 NOT_FOUND (refused: the id was destroyed, its tombstone is there).
  Calls on the common path: 2 (EXISTS, SET).
]]
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
