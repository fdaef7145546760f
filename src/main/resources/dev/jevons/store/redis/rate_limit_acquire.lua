-- Checks every rate limit of one account and one of its keys, then counts the request against all
-- of them or none (store.RedisRateLimiter's implementation note describes the state and the
-- arithmetic). Time is the server's unless the caller gives one (tests with a fake clock).
--
-- KEYS: account meter, account in-flight set, key meter, key in-flight set (one hash tag).
-- ARGV: 1 now seconds or '' (TIME), 2 now nanos of that second, 3 permit id, 4 lease millis,
--       5 tokens; then for the account (6..10) and the key (11..15): tracked '1' or '0', the cost
--       of one request in nanos or '' (no requests limit), the tokens limit or '', the cost of the
--       tokens in nanos, the concurrency limit or ''.
-- Returns: admitted (1 or 0), then for the account and the key as they were before this request:
--          requests used nanos, tokens used nanos, requests in flight.

local WINDOW = 60000000000
local MAX_AHEAD = 1e15

local now_s, now_n
if ARGV[1] ~= '' then
  now_s, now_n = tonumber(ARGV[1]), tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
end
local now_ms = now_s * 1000 + math.floor(now_n / 1000000)
local lease_ms = tonumber(ARGV[4])
local tokens = tonumber(ARGV[5])
local slack_ms = tonumber(ARGV[16])

-- A TAT is stored as whole seconds and nanos of that second, because a Lua number (a double) is
-- exact only below 2^53 and nanos since 1970 are not; differences from now are.
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

local scopes = {}
local admitted = 1
local out = {0, 0, 0, 0, 0, 0, 0}
for i = 0, 1 do
  local b = 6 + 5 * i
  if ARGV[b] == '1' then
    local sc = {
      meter = KEYS[1 + 2 * i], inflight = KEYS[2 + 2 * i],
      rcost = tonumber(ARGV[b + 1]), tpm = tonumber(ARGV[b + 2]), tcost = tonumber(ARGV[b + 3]), max = tonumber(ARGV[b + 4]),
      n = 0,
    }
    local h = redis.call('HMGET', sc.meter, 'rs', 'rn', 'ts', 'tn')
    sc.ru, sc.tu = used(h[1], h[2]), used(h[3], h[4])
    if sc.max then
      -- Leases past their expiry belong to requests whose node stopped renewing them.
      redis.call('ZREMRANGEBYSCORE', sc.inflight, '-inf', now_ms)
      sc.n = redis.call('ZCARD', sc.inflight)
      if sc.n >= sc.max then
        admitted = 0
      end
    end
    if sc.rcost and sc.ru + sc.rcost > WINDOW then
      admitted = 0
    end
    if sc.tpm and (tokens > sc.tpm or sc.tu + sc.tcost > WINDOW) then
      admitted = 0
    end
    scopes[i] = sc
    out[2 + 3 * i], out[3 + 3 * i], out[4 + 3 * i] = sc.ru, sc.tu, sc.n
  end
end
out[1] = admitted

if admitted == 1 then
  for i = 0, 1 do
    local sc = scopes[i]
    if sc then
      local ru, tu = sc.ru, sc.tu
      if sc.rcost then
        ru = math.min(ru + sc.rcost, MAX_AHEAD)
      end
      if sc.tpm then
        tu = math.min(tu + sc.tcost, MAX_AHEAD)
      end
      local ttl_ms = math.ceil(math.max(ru, tu) / 1e6)
      if ttl_ms > 0 then
        local rs, rn = tat(ru)
        local ts, tn = tat(tu)
        redis.call('HSET', sc.meter, 'rs', rs, 'rn', rn, 'ts', ts, 'tn', tn)
        -- Once both TATs have passed the meter is the same as none: let it go.
        redis.call('PEXPIRE', sc.meter, ttl_ms + slack_ms)
      end
      if sc.max then
        redis.call('ZADD', sc.inflight, now_ms + lease_ms, ARGV[3])
        if redis.call('PTTL', sc.inflight) < lease_ms then
          redis.call('PEXPIRE', sc.inflight, lease_ms)
        end
      end
    end
  end
end
return out
