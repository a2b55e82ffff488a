#!lua flags=no-writes
--[[
  A user's live sessions, soonest expiry first.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)

  Returns a flat list {id, value, expiresAt, id, value, expiresAt, ...}. An index entry whose
  value is missing is left out (it cannot be read by its token either).
]]
--- @include "_time"

local dataKey, indexKey = KEYS[1], KEYS[2]
local live = redis.call('ZRANGEBYSCORE', indexKey, '(' .. int(nowMs()), '+inf', 'WITHSCORES')
if #live == 0 then return {} end

local ids = {}
for i = 1, #live, 2 do ids[#ids + 1] = live[i] end
local values = redis.call('HMGET', dataKey, unpack(ids))

local reply = {}
for i = 1, #ids do
  if values[i] then
    reply[#reply + 1] = ids[i]
    reply[#reply + 1] = values[i]
    reply[#reply + 1] = live[i * 2]
  end
end
return reply
