#!lua
--[[
  Creates a session and indexes it under its user in one step. When the user is at the cap,
  evicts that user's least recently used sessions in the same step.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id of the new session (hash of its token)
  ARGV[2] idle TTL, seconds (>= 1)
  ARGV[3] absolute TTL, seconds (0: no absolute limit)
  ARGV[4] max live sessions for this user (0: no cap)
  ARGV[5] metadata JSON (object of strings)
  ARGV[6] user JSON

  Returns {value, evictedId...}: the stored value (its header holds expiresAt and createdAt) and
  the public ids this create evicted. If the id is already live (ioredis re-sent this command
  after a reconnect) that session is returned unchanged: create is idempotent by id.
  Not flagged allow-oom: under maxmemory with noeviction it fails with Redis's OOM error.
]]
--- @include "_time"
--- @include "_value"
--- @include "_live"
--- @include "_user"

local dataKey, indexKey = KEYS[1], KEYS[2]
local sid = ARGV[1]
local idleTtl, absTtl, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = nowMs()

local existing = liveSession(dataKey, sid, now)
if existing then return {existing} end

prune(dataKey, indexKey, now)

local evicted = {}
if cap > 0 then
  local live = redis.call('ZRANGE', indexKey, 0, -1)
  local excess = #live - cap + 1
  if excess > 0 then
    local values = redis.call('HMGET', dataKey, unpack(live))
    local order = {}
    for i = 1, #live do
      -- A value that does not parse sorts first: it is the safest one to evict.
      local lastAccess = 0
      if values[i] then
        local _, _, a = parseHeader(values[i])
        lastAccess = a or 0
      end
      order[i] = {live[i], lastAccess}
    end
    table.sort(order, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      return x[1] < y[1]
    end)
    for i = 1, excess do evicted[i] = order[i][1] end
    redis.call('HDEL', dataKey, unpack(evicted))
    redis.call('ZREM', indexKey, unpack(evicted))
  end
end

local deadline = 0
if absTtl > 0 then deadline = now + absTtl * 1000 end
local expiresAt = expiryAt(now, idleTtl, deadline)
local value = buildValue(expiresAt, now, now, idleTtl, deadline, ARGV[5] .. '\n' .. ARGV[6])

redis.call('HSET', dataKey, sid, value)
redis.call('ZADD', indexKey, int(expiresAt), sid)
extendUserTtl(dataKey, indexKey, expiresAt)

local reply = {value}
for i = 1, #evicted do reply[i + 1] = evicted[i] end
return reply
