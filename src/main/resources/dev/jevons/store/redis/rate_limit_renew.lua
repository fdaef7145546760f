-- Extends the leases of requests still running, so their slots outlive no crash by more than one
-- lease. A lease already purged (its node was silent for longer than the lease) stays gone: a
-- request released meanwhile must not come back.
--
-- KEYS: in-flight sets. ARGV: 1 now seconds or '' (TIME), 2 now nanos, 3 lease millis, then the
-- permit id in each set, in the order of KEYS.
-- Returns: how many leases were still there to extend.

local now_s, now_n
if ARGV[1] ~= '' then
  now_s, now_n = tonumber(ARGV[1]), tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
end
local now_ms = now_s * 1000 + math.floor(now_n / 1000000)
local lease_ms = tonumber(ARGV[3])

local found = 0
for i = 1, #KEYS do
  local expiry = redis.call('ZSCORE', KEYS[i], ARGV[3 + i])
  if expiry and tonumber(expiry) > now_ms then
    found = found + 1
    redis.call('ZADD', KEYS[i], 'XX', now_ms + lease_ms, ARGV[3 + i])
    if redis.call('PTTL', KEYS[i]) < lease_ms then
      redis.call('PEXPIRE', KEYS[i], lease_ms)
    end
  end
end
return found
