-- A session value is "1|expiresAt|createdAt|lastAccessedAt|idleTtl|deadline|<metadata JSON>\n<user JSON>".
-- Times are ms (deadline 0: none), idleTtl is seconds. expiresAt comes first so a read needs
-- one short match. JSON never holds a raw newline, so "\n" splits metadata from the user
-- without a byte count. The user JSON is never decoded here: cjson would re-encode numbers
-- with 14 digits. createSession stores the value its caller built (src/codec.ts encodeValue,
-- the same format as buildValue below).

-- Returns expiresAt, createdAt, lastAccessedAt, idleTtl, deadline, index of the metadata's first byte; nil if malformed.
local function parseHeader(v)
  local e, c, a, t, d, pos = string.match(v, '^1|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|()')
  if not e then return nil end
  return tonumber(e), tonumber(c), tonumber(a), tonumber(t), tonumber(d), pos
end

-- Only the expiry: one short match, for the scripts that need nothing else.
local function expiryOf(v)
  return tonumber(string.match(v, '^1|(%d+)|'))
end

local function buildValue(expiresAt, createdAt, accessedAt, idleTtl, deadline, rest)
  return string.format('1|%d|%d|%d|%d|%d|', expiresAt, createdAt, accessedAt, idleTtl, deadline) .. rest
end

-- When the session expires if it is used at `now`: the idle TTL, clamped by the absolute deadline.
local function expiryAt(now, idleTtl, deadline)
  local e = now + idleTtl * 1000
  if deadline > 0 and e > deadline then return deadline end
  return e
end
