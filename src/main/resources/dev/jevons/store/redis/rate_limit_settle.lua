-- Corrects the tokens TAT of one or two meters after a request used more (debt) or fewer (refund)
-- tokens than it was counted with.
--
-- KEYS: meters. ARGV: 1 now seconds or '' (TIME), 2 now nanos, 3 millis a meter outlives its
-- last TAT (see rate_limit_acquire.lua), then per meter the nanos to add (> 0, debt) or to take
-- back (< 0, refund).

local MAX_AHEAD = 1e15

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

local function tat(ahead)
  local total = now_n + ahead
  local r = math.fmod(total, 1e9)
  if r < 0 then
    r = r + 1e9
  end
  return string.format('%.0f', now_s + (total - r) / 1e9), string.format('%.0f', r)
end

local slack_ms = tonumber(ARGV[3])

for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 + i])
  local h = redis.call('HMGET', KEYS[i], 'rs', 'rn', 'ts', 'tn')
  -- A meter that expired was idle and full: a refund changes nothing, a debt is new state.
  if amount > 0 or h[3] then
    local ru, tu = used(h[1], h[2]), used(h[3], h[4])
    if amount > 0 then
      tu = math.min(tu + amount, MAX_AHEAD)
    else
      tu = math.max(0, tu + amount)
    end
    local ttl_ms = math.ceil(math.max(ru, tu) / 1e6)
    if ttl_ms > 0 then
      local rs, rn = tat(ru)
      local ts, tn = tat(tu)
      redis.call('HSET', KEYS[i], 'rs', rs, 'rn', rn, 'ts', ts, 'tn', tn)
      redis.call('PEXPIRE', KEYS[i], ttl_ms + slack_ms)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 0
