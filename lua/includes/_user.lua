-- A user's sessions live in two keys of one hash slot:
--   data  (hash)  public session id -> session value
--   index (zset)  public session id -> expiresAt in ms
-- A session is live while its expiry (in its value's header, and equal to its index score) is
-- after now. Expired members are pruned by writes, and both keys' Redis TTL is at least the
-- latest expiry, so the index never expires before a session it holds, and Redis reclaims a
-- user whose sessions all ended.

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

-- Makes each key live at least until expiresAt. TTLs only grow here: the index must outlive
-- every session it holds, and keys that outlive their last session for a while cost only that
-- while's memory (destroys delete them once the index is empty).
local function extendUserTtl(dataKey, indexKey, expiresAt)
  if redis.call('PEXPIRETIME', dataKey) < expiresAt then redis.call('PEXPIREAT', dataKey, int(expiresAt)) end
  if redis.call('PEXPIRETIME', indexKey) < expiresAt then redis.call('PEXPIREAT', indexKey, int(expiresAt)) end
end

-- Deletes both keys once the user has no session left in the index.
local function dropIfEmpty(dataKey, indexKey)
  if redis.call('ZCARD', indexKey) == 0 then redis.call('DEL', dataKey, indexKey) end
end
