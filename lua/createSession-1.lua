#!lua
--[[
  Creates a session in its user's hash (which is also the user's index). When the user is at
  the cap, evicts that user's least recently used sessions in the same step.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id of the new session (hash of its token)
  ARGV[2] the session value, built by the caller (lua/includes/_value.lua), header included
  ARGV[3] its expiresAt, ms
  ARGV[4] its idle TTL, seconds (>= 1)
  ARGV[5] now: the caller's lower bound of the Redis clock when it sent this, ms (the value's
          createdAt). An earlier `now` only makes the session end sooner and prunes less, so a
          create that ioredis re-sends late never outlives its absolute TTL.
  ARGV[6] max live sessions for this user (0: no cap)

  Returns {1, evictedId...} when ARGV[2] was stored, and the public ids this create evicted; or
  {value} when the id is already live (ioredis re-sent this command after a reconnect): that
  session is returned unchanged, so create is idempotent by id.
  Codes: none.
  Calls on the common path: 2 to 3: HMGET, HSET, and PEXPIREAT only when the key's expiry must
  move (a new user: PEXPIREAT NX, which also tells a new key from a bare one: see _user.lua).
  No TIME, and no string is built here but the bookkeeping. A cap adds HLEN; pruning (only once
  the user's earliest expiry has passed) and eviction add HGETALL and HDEL; a user's second
  session adds PEXPIRETIME, an HSET of the bookkeeping, and PEXPIREAT if the key must outlive it.
  Not flagged allow-oom: under maxmemory with noeviction it fails with Redis's OOM error.
]]
--- @include "_time"
--- @include "_value"
--- @include "_user"

local key, sid, value = KEYS[1], ARGV[1], ARGV[2]
local expiresAt, idleTtl, now, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local got = redis.call('HMGET', key, sid, META)
if got[1] then
  local e = expiryOf(got[1])
  if not e or e > now then return {got[1]} end
end
local meta = got[2]
local minE, keyE = parseMeta(meta)

local evicted, live, changed = {}, nil, false
if minE and minE <= now then
  -- Some session may have expired: prune, and learn the exact minimum while at it.
  local dead
  live, dead, minE = scanUser(key, now)
  if #dead > 0 then deleteFields(key, dead) end
  minE, changed = minE or MAX_MS, true
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

if minE then
  storeSession(key, sid, value, minE, keyE, expiresAt, idleTtl, changed)
else
  storeFirst(key, sid, value, expiresAt, idleTtl)
end

local reply = {1}
for i = 1, #evicted do reply[i + 1] = evicted[i] end
return reply
