-- Reads the TATs of an account's and a key's meters as nanos ahead of now, changing nothing.
-- KEYS: account meter, key meter. ARGV: 1 now seconds or '' (TIME), 2 now nanos.
-- Returns: account requests used, account tokens used, key requests used, key tokens used.

local now_s, now_n
if ARGV[1] ~= '' then
  now_s, now_n = tonumber(ARGV[1]), tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
end

local function used(s, n)
  if not s then
    return 0
  end
  local d = (tonumber(s) - now_s) * 1e9 + (tonumber(n) - now_n)
  if d < 0 then
    return 0
  end
  return d
end

local out = {}
for i = 1, 2 do
  local h = redis.call('HMGET', KEYS[i], 'rs', 'rn', 'ts', 'tn')
  out[2 * i - 1], out[2 * i] = used(h[1], h[2]), used(h[3], h[4])
end
return out
