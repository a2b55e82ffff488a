--- @include "_time"
--- @include "_value"
-- One user's sessions live in one hash:
--   <session id>  the session value (its header holds the session's expiry)
--   "."           bookkeeping, "<minExpiry>|<keyExpiry>" in ms:
--     minExpiry  no session in the hash expires before it. Writes only lower it and a scan
--                recomputes it, so it may sit below the true minimum, never above. While it is
--                in the future every session in the hash is live: HLEN - 1 is the exact count,
--                and nothing needs pruning.
--     keyExpiry  the key's PEXPIREAT. The key outlives every session it holds; it is moved
--                with slack (an eighth of the idle TTL), so rolling and refreshing sessions move
--                it at most once per slack, not on every write.
-- A hash without bookkeeping belongs to a new user (or was written by 0.1, which kept the
-- index in a second key): its minimum is unknown (0), and its TTL is read once.

local META = '.'

local function parseMeta(m)
  if not m then return nil end
  local a, b = string.match(m, '^(%d+)|(%d+)$')
  if not a then return nil end
  return tonumber(a), tonumber(b)
end

-- The bookkeeping after a session of this user now expires at `expiresAt`: the new "." value
-- (nil when unchanged) and the PEXPIREAT to send (nil when the key already lives long enough).
-- `meta` is the "." field as read (false when absent); `dirty`: write it even if unchanged.
local function planUser(key, meta, expiresAt, idleTtl, dirty)
  local minE, keyE = parseMeta(meta)
  if not minE then
    local current = redis.call('PEXPIRETIME', key)
    if current == -2 then minE = expiresAt else minE = 0 end
    if current > 0 then keyE = current else keyE = 0 end
  end
  local newMin, pexpire = minE, nil
  if expiresAt < newMin then newMin = expiresAt end
  if expiresAt > keyE then
    keyE = expiresAt + math.floor(idleTtl * 125)
    pexpire = keyE
  end
  if meta and not dirty and newMin == minE and not pexpire then return nil, nil end
  return int(newMin) .. '|' .. int(keyE), pexpire
end

-- Writes a session value and the bookkeeping in one HSET, then moves the key's expiry if due.
local function storeSession(key, sid, value, meta, expiresAt, idleTtl, dirty)
  local newMeta, pexpire = planUser(key, meta, expiresAt, idleTtl, dirty)
  if newMeta then
    redis.call('HSET', key, sid, value, META, newMeta)
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
      local e, _, a = parseHeader(all[i + 1])
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
