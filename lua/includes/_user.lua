--- @include "_time"
--- @include "_value"
-- One user's sessions live in one hash:
--   <session id>  the session value (its header holds the session's expiry)
--   "."           bookkeeping, "<minExpiry>|<keyExpiry>" in ms:
--     minExpiry  no session in the hash expires before it. Writes only lower it and a scan
--                recomputes it, so it may sit below the true minimum, never above. While it is
--                in the future every session in the hash is live: HLEN - 1 is the exact count,
--                and nothing needs pruning.
--     keyExpiry  at most the key's PEXPIREAT. The key outlives every session it holds; it is
--                moved with slack (an eighth of the idle TTL), so rolling and refreshing sessions
--                move it at most once per slack, not on every write.
-- A hash without bookkeeping belongs to a new user (or was written by 0.1, which kept the
-- index in a second key): see storeUnknown.

local META = '.'

local function parseMeta(m)
  if not m then return nil end
  local a, b = string.match(m, '^(%d+)|(%d+)$')
  if not a then return nil end
  return a + 0, b + 0
end

-- No expiry is later than this (ms): the minimum of a user with no live session.
local MAX_MS = 9007199254740991

-- A user without bookkeeping: a new one, or a key written by 0.1. After the HSET, PEXPIREAT NX
-- succeeds exactly on a key without a TTL, which is a new key (0.1 gave every key one). A 0.1
-- key keeps a longer TTL (GT), and its minimum is unknown (0) until the next create scans it.
local function storeUnknown(key, sid, value, expiresAt, idleTtl)
  local keyE = int(expiresAt + math.floor(idleTtl * 125))
  redis.call('HSET', key, sid, value, META, int(expiresAt) .. '|' .. keyE)
  if redis.call('PEXPIREAT', key, keyE, 'NX') == 0 then
    redis.call('PEXPIREAT', key, keyE, 'GT')
    redis.call('HSET', key, META, '0|' .. keyE)
  end
end

-- Writes a session value, and the bookkeeping when it changes, in one HSET; then moves the
-- key's expiry if due. minE and keyE are the bookkeeping as read (parseMeta; nil when absent),
-- or as a scan just recomputed it (`changed`: write it even if this session does not move it).
local function storeSession(key, sid, value, minE, keyE, expiresAt, idleTtl, changed)
  if not minE then return storeUnknown(key, sid, value, expiresAt, idleTtl) end
  if expiresAt < minE then minE, changed = expiresAt, true end
  local pexpire = nil
  if expiresAt > keyE then
    keyE = expiresAt + math.floor(idleTtl * 125)
    pexpire, changed = keyE, true
  end
  if changed then
    redis.call('HSET', key, sid, value, META, int(minE) .. '|' .. int(keyE))
  else
    redis.call('HSET', key, sid, value)
  end
  if pexpire then redis.call('PEXPIREAT', key, int(pexpire)) end
end

-- Reads every session of the user (one HGETALL: only on the rare paths, the cap and pruning).
-- Returns the live sessions as {sid, lastAccessedAt} (a value that does not parse counts as
-- live with lastAccessedAt 0: it is the first to go under the cap, and reads report it as
-- corrupt), the expired session ids, and the smallest expiry among the live ones (or nil).
local function scanUser(key, now)
  local all = redis.call('HGETALL', key)
  local live, dead, minE = {}, {}, nil
  for i = 1, #all, 2 do
    local sid = all[i]
    if sid ~= META then
      local e, _, a = headerFields(all[i + 1])
      if e then e, a = e + 0, a + 0 end
      if not e then
        live[#live + 1] = {sid, 0}
      elseif e <= now then
        dead[#dead + 1] = sid
      else
        live[#live + 1] = {sid, a}
        if not minE or e < minE then minE = e end
      end
    end
  end
  return live, dead, minE
end

-- HDEL in chunks: unpack() is bounded by Lua's C stack.
local function deleteFields(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end
