#!lua flags=no-writes
--[[
  A user's live sessions, soonest expiry first.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)

  Returns a flat list {id, value, id, value, ...} (each value's header holds its expiry). An
  index entry whose value is missing is left out (it cannot be read by its token either).
]]
--- @include "_time"

local dataKey, indexKey = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGEBYSCORE', indexKey, '(' .. int(nowMs()), '+inf')
if #ids == 0 then return {} end
local values = redis.call('HMGET', dataKey, unpack(ids))

local reply = {}
for i = 1, #ids do
  if values[i] then
    reply[#reply + 1] = ids[i]
    reply[#reply + 1] = values[i]
  end
end
return reply
