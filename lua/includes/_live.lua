-- The live session's value and expiry, or nil. The value's header carries the expiry, so a
-- read is one HGET; a value whose header does not parse is returned as is (expiry 0) for the
-- caller to report as corrupt.
local function liveSession(dataKey, sid, now)
  local v = redis.call('HGET', dataKey, sid)
  if not v then return nil end
  local e = tonumber(string.match(v, '^1|(%d+)|'))
  if not e then return v, 0 end
  if e <= now then return nil end
  return v, e
end
