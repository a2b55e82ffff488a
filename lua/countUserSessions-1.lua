#!lua flags=no-writes
--[[
  Exact number of a user's live sessions; expired ones are never counted, pruned or not.

  KEYS[1] index key  (zset: public session id -> expiresAt, ms)

  Returns the count (>= 0).
]]
--- @include "_time"

return redis.call('ZCOUNT', KEYS[1], '(' .. int(nowMs()), '+inf')
