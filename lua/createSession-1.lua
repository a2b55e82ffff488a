#!lua
--[[
  Creates a session in its user's hash (which is also the user's index). When the user is at
  the cap, evicts that user's least recently used sessions in the same step.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id of the new session (hash of its token)
  ARGV[2] idle TTL, seconds (>= 1)
  ARGV[3] absolute TTL, seconds (0: no absolute limit)
  ARGV[4] max live sessions for this user (0: no cap)
  ARGV[5] metadata JSON (object of strings)
  ARGV[6] user JSON

  Returns {value, evictedId...}: the stored value (its header holds expiresAt and createdAt) and
  the public ids this create evicted. If the id is already live (ioredis re-sent this command
  after a reconnect) that session is returned unchanged: create is idempotent by id.
  Codes: none.
  Calls on the common path: 3 to 4 (TIME, HMGET, HSET, and PEXPIREAT when the key's expiry must
  move); a new user adds PEXPIRETIME; a cap adds HLEN; pruning (only once the user's earliest
  expiry has passed) and eviction add HGETALL and HDEL.
  Not flagged allow-oom: under maxmemory with noeviction it fails with Redis's OOM error.
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local key, sid = KEYS[1], ARGV[1]
local idleTtl, absTtl, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = nowMs()

local got = redis.call('HMGET', key, sid, META)
if got[1] then
  local e = parseHeader(got[1])
  if not e or e > now then return {got[1]} end
end
local meta, dirty = got[2], false
local minE, keyE = parseMeta(meta)

local evicted = {}
local live = nil
if minE and minE <= now then
  -- Some session may have expired: prune, and learn the exact minimum while at it.
  local dead
  live, dead, minE = scanUser(key, now)
  if #dead > 0 then deleteFields(key, dead) end
  meta, dirty = int(minE or 9007199254740991) .. '|' .. int(keyE), true
end
if cap > 0 then
  local count
  if live then count = #live else count = redis.call('HLEN', key) - (meta and 1 or 0) end
  if count >= cap then
    if not live then live = scanUser(key, now) end
    table.sort(live, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      return x[1] < y[1]
    end)
    for i = 1, #live - cap + 1 do evicted[i] = live[i][1] end
    if #evicted > 0 then deleteFields(key, evicted) end
  end
end

local deadline = 0
if absTtl > 0 then deadline = now + absTtl * 1000 end
local expiresAt = expiryAt(now, idleTtl, deadline)
local value = buildValue(expiresAt, now, now, idleTtl, deadline, ARGV[5] .. '\n' .. ARGV[6])
storeSession(key, sid, value, meta, expiresAt, idleTtl, dirty)

local reply = {value}
for i = 1, #evicted do reply[i + 1] = evicted[i] end
return reply
