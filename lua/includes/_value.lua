-- A session value is "1|expiresAt|createdAt|lastAccessedAt|idleTtl|deadline|<metadata JSON>\n<user JSON>".
-- Times are ms (deadline 0: none), idleTtl is seconds. expiresAt comes first so a read needs
-- one short match. JSON never holds a raw newline, so "\n" splits metadata from the user
-- without a byte count. The user JSON is never decoded here: cjson would re-encode numbers
-- with 14 digits. createSession stores the value its caller built (src/codec.ts encodeValue,
-- the same format as buildValue below).

-- The header's fields as digit strings: expiresAt, createdAt, lastAccessedAt, idleTtl, deadline,
-- and the index of the metadata's first byte; nil if malformed. A script turns into numbers only
-- the fields it compares (`+ 0`: arithmetic converts a digit string itself) and copies the rest
-- into a new header as text: each conversion and each number formatted costs Redis CPU on the
-- hot writes (a refresh converting and formatting every field cost ~10% more).
local function headerFields(v)
  return string.match(v, '^1|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|()')
end

-- Only the expiry: one short match, for the scripts that need nothing else.
local function expiryOf(v)
  return tonumber(string.match(v, '^1|(%d+)|'))
end

-- expiresAt and accessedAt are numbers (computed, written as integers); the other fields are
-- copied: digit strings as headerFields read them, or numbers.
local function buildValue(expiresAt, createdAt, accessedAt, idleTtl, deadline, rest)
  return string.format('1|%d|%s|%d|%s|%s|', expiresAt, createdAt, accessedAt, idleTtl, deadline) .. rest
end

-- When the session expires if it is used at `now`: the idle TTL, clamped by the absolute deadline.
-- idleTtl and deadline may be digit strings.
local function expiryAt(now, idleTtl, deadline)
  local e, d = now + idleTtl * 1000, deadline + 0
  if d > 0 and e > d then return d end
  return e
end
