-- Take up to N articles whose site's turn has come, one request's turn each (worker/frontier.py).
-- KEYS[1] frontier:sites  KEYS[2] frontier:entries  KEYS[3] frontier:leased
-- KEYS[4] frontier:active KEYS[5] frontier:leases   KEYS[6] frontier:delay
-- ARGV[1] key prefix, ARGV[2] N, ARGV[3] default delay ms, ARGV[4] per-site concurrency,
-- ARGV[5] lease ms, ARGV[6] lease token prefix (the taker).
-- For each article taken: the site's pace (pace:<site>) moves to now + its delay, its
-- requests in flight go up by one, the article is leased (leases: key -> expiry; leased:
-- key -> token|site|1, 1 = its request is in flight). A site stays on the ready list,
-- for its next turn, only while it may take one more request and has articles waiting.
-- Returns a flat list: key, token, site, entry, delay ms, ... and, last, ms until the next site is ready (-1: none).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, want = ARGV[1], tonumber(ARGV[2])
local concurrency, lease = tonumber(ARGV[4]), tonumber(ARGV[5])
local out, taken, seq = {}, 0, 0
local sites = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want)
for _, site in ipairs(sites) do
  local queue = prefix .. 'frontier:q:' .. site
  local pace_key = prefix .. 'pace:' .. site
  local delay = tonumber(redis.call('HGET', KEYS[6], site) or ARGV[3])
  local active = tonumber(redis.call('HGET', KEYS[4], site) or '0')
  while taken < want and active < concurrency do
    local pace = tonumber(redis.call('GET', pace_key) or '0')
    local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    if not head[1] or pace > now or math.floor(tonumber(head[2])) > now then break end
    local key = head[1]
    redis.call('ZREM', queue, key)
    local entry = redis.call('HGET', KEYS[2], key)
    if entry then
      seq = seq + 1
      local token = ARGV[6] .. ':' .. now .. ':' .. seq
      redis.call('SET', pace_key, string.format('%d', now + delay), 'PX', string.format('%d', delay + 60000))
      active = redis.call('HINCRBY', KEYS[4], site, 1)
      redis.call('ZADD', KEYS[5], string.format('%d', now + lease), key)
      redis.call('HSET', KEYS[3], key, token .. '|' .. site .. '|1')
      out[#out + 1] = key
      out[#out + 1] = token
      out[#out + 1] = site
      out[#out + 1] = entry
      out[#out + 1] = delay
      taken = taken + 1
    end
  end
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] and active < concurrency then
    local pace = tonumber(redis.call('GET', pace_key) or '0')
    redis.call('ZADD', KEYS[1], string.format('%d', math.max(pace, tonumber(head[2]))), site)
  else
    redis.call('ZREM', KEYS[1], site)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
out[#out + 1] = first[2] and math.max(0, tonumber(first[2]) - now) or -1
return out
