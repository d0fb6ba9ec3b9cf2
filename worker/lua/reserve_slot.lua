-- Reserve a domain's next free request slot, on the Redis server's clock.
-- KEYS[1] the domain's next free slot (ms); ARGV[1] interval ms, ARGV[2] longest wait ms,
-- ARGV[3] "sent" (optional): a request that had its turn (the frontier's) went now; the next
-- slot moves to at least now + interval, nothing is reserved and nothing waits.
-- Returns {1, wait_ms} with the slot reserved, or {0, wait_ms} when it is too far off.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
if ARGV[3] == 'sent' then
  if now + interval > slot then
    redis.call('SET', KEYS[1], string.format('%d', now + interval), 'PX', string.format('%d', interval + 1000))
  end
  return {1, 0}
end
if slot < now then slot = now end
local wait = slot - now
if wait > tonumber(ARGV[2]) then return {0, wait} end
redis.call('SET', KEYS[1], string.format('%d', slot + interval),
           'PX', string.format('%d', wait + interval + 1000))
return {1, wait}
