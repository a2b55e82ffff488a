--- @include "_time"
-- The per-user index of express-session sessions: a zset of sid -> expiresAt (ms), '+inf' for
-- sessions without a TTL. Like the core store's index it prunes itself and expires with the
-- user's last session, so it never outlives what it indexes nor expires before it.
local function indexSession(indexKey, sid, ttlSeconds, now)
  if ttlSeconds > 0 then
    redis.call('ZADD', indexKey, int(now + ttlSeconds * 1000), sid)
  else
    redis.call('ZADD', indexKey, '+inf', sid)
  end
end

local function syncIndex(indexKey, now)
  redis.call('ZREMRANGEBYSCORE', indexKey, '-inf', int(now))
  local last = redis.call('ZRANGE', indexKey, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', indexKey)
  elseif last[2] == 'inf' then
    redis.call('PERSIST', indexKey)
  else
    redis.call('PEXPIREAT', indexKey, last[2])
  end
end
