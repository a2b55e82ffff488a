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
-- A user with one session has no bookkeeping (a "bare" hash: the field would cost ~75 of its
-- ~785 bytes). A bare key's expiry is at least every session's, as above, but is not recorded:
-- a write that moves a session's expiry moves the key's with it (GT: never shorter), and a count
-- reads the sessions. A user's second session adds the bookkeeping (storeFirst). Data written by
-- 0.1 (the index in a second key) is bare too, and is read and written the same way.

local META = '.'

local function parseMeta(m)
  if not m then return nil end
  local a, b = string.match(m, '^(%d+)|(%d+)$')
  if not a then return nil end
  return a + 0, b + 0
end

-- No expiry is later than this (ms): the minimum of a user with no live session.
local MAX_MS = 9007199254740991

-- createSession on a bare user. PEXPIREAT NX succeeds exactly on a new key, one without a TTL
-- (every bare write gives its key one, and so did 0.1): the user's first session, stored bare.
-- Otherwise this is a second session, and the user gains bookkeeping. Its keyExpiry is the key's
-- own expiry (PEXPIRETIME), lengthened to outlive the new session if need be: so it is at least
-- every session's, and a later write may move the key without GT. Its minimum is unknown (0)
-- until the next create scans.
local function storeFirst(key, sid, value, expiresAt, idleTtl)
  local keyE = expiresAt + math.floor(idleTtl * 125)
  redis.call('HSET', key, sid, value)
  if redis.call('PEXPIREAT', key, int(keyE), 'NX') == 1 then return end
  local current = redis.call('PEXPIRETIME', key)
  if current < keyE then
    redis.call('PEXPIREAT', key, int(keyE))
  else
    keyE = current
  end
  redis.call('HSET', key, META, '0|' .. int(keyE))
end

-- A refresh or touch of a bare user's session: the value, and the key's expiry moved with it.
-- GT answers 0 when the key already outlives the session, and also on a key without a TTL
-- (made persistent from outside): NX gives that one a TTL.
local function storeBare(key, sid, value, expiresAt, idleTtl)
  local keyE = int(expiresAt + math.floor(idleTtl * 125))
  redis.call('HSET', key, sid, value)
  if redis.call('PEXPIREAT', key, keyE, 'GT') == 0 then redis.call('PEXPIREAT', key, keyE, 'NX') end
end

-- Writes a session value, and the bookkeeping when it changes, in one HSET; then moves the
-- key's expiry if due. minE and keyE are the bookkeeping as read (parseMeta; nil when absent:
-- a bare user), or as a scan just recomputed it (`changed`: write it even if this session does
-- not move it).
local function storeSession(key, sid, value, minE, keyE, expiresAt, idleTtl, changed)
  if not minE then return storeBare(key, sid, value, expiresAt, idleTtl) end
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
