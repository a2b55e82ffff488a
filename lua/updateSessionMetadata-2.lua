#!lua
--[[
  Patches a live session's metadata key by key, atomically: concurrent patches of different
  keys all land. A JSON null removes a key. Never re-creates a destroyed or expired session.

  KEYS[1] data key   (hash: public session id -> session value)
  KEYS[2] index key  (zset: public session id -> expiresAt, ms)
  ARGV[1] public session id
  ARGV[2] patch JSON (object of string or null)
  ARGV[3] max metadata size after the patch: UTF-8 bytes of keys plus values

  Returns 1 patched, 0 no live session, -1 the result would exceed ARGV[3] (nothing written),
  -2 the stored value is malformed (nothing written).
  Not allow-oom: a patch can grow the session.
]]
--- @include "_time"
--- @include "_value"
--- @include "_live"

local dataKey = KEYS[1]
local sid, maxBytes = ARGV[1], tonumber(ARGV[3])
local now = nowMs()

local value = liveSession(dataKey, sid, now)
if not value then return 0 end
local expiresAt, createdAt, accessedAt, idleTtl, deadline, rest = parseHeader(value)
if not createdAt then return -2 end
local split = string.find(value, '\n', rest, true)
if not split then return -2 end

local ok, metadata = pcall(cjson.decode, string.sub(value, rest, split - 1))
if not ok or type(metadata) ~= 'table' then return -2 end
for k, v in pairs(cjson.decode(ARGV[2])) do
  if v == cjson.null then metadata[k] = nil else metadata[k] = v end
end

-- The limit counts bytes of keys and values, as the TypeScript side does: independent of
-- how either JSON encoder escapes them.
local size = 0
for k, v in pairs(metadata) do size = size + #k + #tostring(v) end
if size > maxBytes then return -1 end
-- cjson encodes an empty table as {}, which is what an empty metadata object is.
local encoded = cjson.encode(metadata)
redis.call('HSET', dataKey, sid,
  buildValue(expiresAt, createdAt, accessedAt, idleTtl, deadline, encoded .. string.sub(value, split)))
return 1
