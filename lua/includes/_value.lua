-- A session value is "1|createdAt|lastAccessedAt|idleTtl|absoluteDeadline|<metadata JSON>\n<user JSON>".
-- createdAt, lastAccessedAt and absoluteDeadline are ms (deadline 0: none), idleTtl is seconds.
-- JSON never holds a raw newline, so "\n" splits metadata from the user without a byte count.
-- The user JSON is never decoded here: cjson would re-encode numbers with 14 digits.

-- Returns createdAt, lastAccessedAt, idleTtl, deadline, index of the metadata's first byte; nil if malformed.
local function parseHeader(v)
  local c, a, t, d, pos = string.match(v, '^1|(%d+)|(%d+)|(%d+)|(%d+)|()')
  if not c then return nil end
  return tonumber(c), tonumber(a), tonumber(t), tonumber(d), pos
end

local function buildValue(createdAt, accessedAt, idleTtl, deadline, rest)
  return '1|' .. string.format('%d|%d|%d|%d|', createdAt, accessedAt, idleTtl, deadline) .. rest
end

-- When the session expires if it is used at `now`: the idle TTL, clamped by the absolute deadline.
local function expiryAt(now, idleTtl, deadline)
  local e = now + idleTtl * 1000
  if deadline > 0 and e > deadline then return deadline end
  return e
end
