#!lua flags=no-writes
--[[
  getSessions without the cache, on one server: the sessions of many users in one call. A
  pipeline costs the client a command per user key; this costs it one per batch (measured in
  bench:cpu and npm run bench). Values only: the caller decodes them as it decodes a plain
  read's (ops/reads.ts), so this script does no string work and decides nothing.

  KEYS[1..n] user keys (hash: session id -> session value), each once
  ARGV in one of two forms, told apart by their number:
    n entries (one id per key, the common batch): ARGV[i] the session id read from KEYS[i]
    more: ARGV[i], i <= n, how many session ids of KEYS[i] follow; after the n counts the
          session ids, KEYS[1]'s first, then KEYS[2]'s, and so on (every count is >= 1, so
          this form always has at least 2n entries)

  Returns the values in the order of the ids, false where there is none.
  Codes: none.
  Calls on the common path: 1 per key (HGET for one id, HMGET for several).
  no-writes: it only reads (and may run under OOM or on a replica).
]]
local n = #KEYS
local out = {}
if #ARGV == n then
  for i = 1, n do
    local key = KEYS[i]
    out[i] = redis.call('HGET', key, ARGV[i])
  end
  return out
end
local at = n
local size = 0
for i = 1, n do
  local key = KEYS[i]
  local count = tonumber(ARGV[i])
  if count == 1 then
    -- The common case (one session per user in the batch): HGET, no table to unpack.
    size = size + 1
    out[size] = redis.call('HGET', key, ARGV[at + 1])
  else
    local got = redis.call('HMGET', key, unpack(ARGV, at + 1, at + count))
    for j = 1, count do out[size + j] = got[j] end
    size = size + count
  end
  at = at + count
end
return out
