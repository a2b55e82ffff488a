-- A user's sessions live in two keys of one hash slot:
--   data  (hash)  public session id -> session value
--   index (zset)  public session id -> expiresAt in ms
-- A session is live while its expiry (in its value's header, and equal to its index score) is
-- after now. Expired members are pruned by writes, and both keys carry the latest expiry as
-- their Redis TTL, so the index never expires before a session it holds, and Redis reclaims
-- a user whose sessions all ended.

-- Removes every session whose expiry is at or before now. Returns how many were removed.
local function prune(dataKey, indexKey, now)
  local dead = redis.call('ZRANGEBYSCORE', indexKey, '-inf', int(now))
  local n = #dead
  if n == 0 then return 0 end
  -- unpack() is bounded by Lua's C stack: delete in chunks.
  for i = 1, n, 1000 do
    redis.call('HDEL', dataKey, unpack(dead, i, math.min(i + 999, n)))
  end
  redis.call('ZREMRANGEBYSCORE', indexKey, '-inf', int(now))
  return n
end

-- Sets both keys to expire with the user's last live session, or deletes them when none is left.
local function syncUserTtl(dataKey, indexKey)
  local last = redis.call('ZRANGE', indexKey, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', dataKey, indexKey)
    return
  end
  redis.call('PEXPIREAT', dataKey, last[2])
  redis.call('PEXPIREAT', indexKey, last[2])
end
