-- Milliseconds on the Redis server clock. Redis 7 freezes expiry checks at
-- script start and replicates effects only, so TIME is safe here and gives
-- every app server one clock.
local function nowMs()
  local t = redis.call('TIME')
  -- Arithmetic converts the digit strings itself: no tonumber() calls.
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

-- Lua numbers reach redis.call as text; format them as integers so no score or
-- timestamp is ever sent in exponent notation.
local function int(n)
  return string.format('%d', n)
end
