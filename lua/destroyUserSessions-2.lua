#!lua flags=allow-oom
--[[
  Log out everywhere: destroys every session of a user, optionally except one, in one step.
  Sessions created after this runs are not affected; every session that existed is gone.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public id of the session to keep ('' keeps none)

  Returns the number of live sessions destroyed (as the index counts them; foreign data under
  either key is deleted and counts as none).
  allow-oom: it only deletes (a kept session is written back at its old size).
]]
--- @include "_time"
--- @include "_live"

local dataKey, indexKey = KEYS[1], KEYS[2]
local keep = ARGV[1]
local now = nowMs()

-- Foreign data under either key (another type) must not stop a log-out-everywhere: both keys
-- are deleted whatever they hold, and only what can be read is counted or kept.
local live = redis.pcall('ZCOUNT', indexKey, '(' .. int(now), '+inf')
if type(live) ~= 'number' then live = 0 end
local keptValue, keptExpiry
if keep ~= '' then
  local ok, v, e = pcall(liveSession, dataKey, keep, now)
  if ok then keptValue, keptExpiry = v, e end
end

redis.call('DEL', dataKey, indexKey)
if not keptValue or keptExpiry == 0 then return live end

redis.call('HSET', dataKey, keep, keptValue)
redis.call('ZADD', indexKey, int(keptExpiry), keep)
redis.call('PEXPIREAT', dataKey, int(keptExpiry))
redis.call('PEXPIREAT', indexKey, int(keptExpiry))
return live - 1
