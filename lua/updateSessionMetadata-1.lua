#!lua
--[[
  Patches a live session's metadata key by key, atomically: concurrent patches of different
  keys all land. A JSON null removes a key. Never re-creates a destroyed or expired session.

  KEYS[1] user key  (hash: session id -> session value, "." -> bookkeeping)
  ARGV[1] public session id
  ARGV[2] patch JSON (object of string or null)
  ARGV[3] max metadata size after the patch: UTF-8 bytes of keys plus values
  ARGV[4] now: the latest the Redis clock could read when the caller sent this, ms. A patch
          never moves the expiry, so one that lands on a session that expired in flight leaves
          it expired: the check needs no TIME.

  Returns 1 when patched, or a code.
  Codes: 0 NOT_FOUND (no live session), -1 MALFORMED (the stored value; nothing written),
  -2 TOO_LARGE (the result would exceed ARGV[3]; nothing written).
  Calls on the common path: 2 (HGET, HSET). The expiry does not move, and the header is copied,
  not rebuilt.
  Not allow-oom: a patch can grow the session.
]]
--- @include "_value"

local key, sid, maxBytes, now = KEYS[1], ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])

local value = redis.call('HGET', key, sid)
if not value then return 0 end
local expiresAt, _, _, _, _, rest = headerFields(value)
if not expiresAt then return -1 end
if expiresAt + 0 <= now then return 0 end
local split = string.find(value, '\n', rest, true)
if not split then return -1 end

local ok, metadata = pcall(cjson.decode, string.sub(value, rest, split - 1))
if not ok or type(metadata) ~= 'table' then return -1 end
for k, v in pairs(cjson.decode(ARGV[2])) do
  if v == cjson.null then metadata[k] = nil else metadata[k] = v end
end

-- The limit counts bytes of keys and values, as the TypeScript side does: independent of
-- how either JSON encoder escapes them.
local size = 0
for k, v in pairs(metadata) do size = size + #k + #tostring(v) end
if size > maxBytes then return -2 end
-- cjson encodes an empty table as {}, which is what an empty metadata object is.
local encoded = cjson.encode(metadata)
redis.call('HSET', key, sid, string.sub(value, 1, rest - 1) .. encoded .. string.sub(value, split))
return 1
