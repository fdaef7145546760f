-- Gives back a request's concurrency slots. KEYS: in-flight sets. ARGV: 1 permit id.
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 0
