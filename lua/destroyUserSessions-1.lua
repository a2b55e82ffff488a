#!lua flags=allow-oom
--[[
  Log out everywhere: destroys every session of a user, optionally except one, in one step.
  Sessions created after this runs are not affected; every session that existed is gone.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public id of the session to keep ('' keeps none)

  Returns the number of live sessions destroyed (>= 0; foreign data under the key is deleted
  and counts as none).
  Codes: none.
  Calls on the common path: 4 (TIME, HMGET, HLEN, DEL); keeping a session adds HSET and
  PEXPIREAT; a user whose earliest expiry has passed is counted with HGETALL instead of HLEN.
  allow-oom: it only deletes (a kept session is written back at its old size).
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local key, keep = KEYS[1], ARGV[1]
local now = nowMs()

-- Foreign data under the key (another type) must not stop a log-out-everywhere: the key is
-- deleted whatever it holds, and only what can be read is counted or kept.
local ok, got = pcall(redis.call, 'HMGET', key, keep, META)
local live, kept, keptExpiry = 0, nil, nil
if ok then
  local minE = parseMeta(got[2])
  if minE and minE > now then
    live = redis.call('HLEN', key) - 1
  else
    local sessions = scanUser(key, now)
    live = #sessions
  end
  if keep ~= '' and got[1] then
    local e = expiryOf(got[1])
    if e and e > now then kept, keptExpiry = got[1], e end
  end
end

redis.call('DEL', key)
if not kept then return live end
redis.call('HSET', key, keep, kept, META, int(keptExpiry) .. '|' .. int(keptExpiry))
redis.call('PEXPIREAT', key, int(keptExpiry))
return live - 1
