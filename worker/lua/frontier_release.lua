-- Release what a taker holds of one article (worker/frontier.py).
-- KEYS[1] frontier:sites  KEYS[2] frontier:entries  KEYS[3] frontier:leased
-- KEYS[4] frontier:active KEYS[5] frontier:leases   KEYS[6] frontier:delay
-- ARGV[1] key prefix, ARGV[2] mode, ARGV[3] item key, ARGV[4] token ('' = any: the sweep),
-- ARGV[5] per-site concurrency, ARGV[6] the site's new delay ms ('' = unchanged),
-- ARGV[7] the site's next request no sooner than this many ms from now ('' = no change),
-- ARGV[8] new entry ('' = unchanged), ARGV[9] not before (ms from now; <0: the head of its queue).
-- mode "fetched": its request is over; the site may take the next one (the lease stays
--   until the article is decided). "done": decided; lease and entry go.
--   "back": into its site's queue again (a retry, a deferral, a dead taker's work).
-- Returns 1 (with "done": 1 and then the runs that watched it, which it forgets), or 0
-- when the token no longer holds the article (its lease expired and it was taken back
-- meanwhile): then nothing is changed.
local prefix, mode, key, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local held = redis.call('HGET', KEYS[3], key)
if not held then return 0 end
local htoken, site, state = string.match(held, '^(.*)|(.*)|(%d)$')
if token ~= '' and htoken ~= token then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pace_key = prefix .. 'pace:' .. site
if ARGV[6] ~= '' then redis.call('HSET', KEYS[6], site, ARGV[6]) end
if ARGV[7] ~= '' then
  local pace = tonumber(redis.call('GET', pace_key) or '0')
  local want = now + tonumber(ARGV[7])
  if want > pace then
    redis.call('SET', pace_key, string.format('%d', want), 'PX', string.format('%d', want - now + 60000))
  end
end
local freed = false
local watchers = nil
if state == '1' then
  redis.call('HINCRBY', KEYS[4], site, -1)
  freed = true
end
local queue = prefix .. 'frontier:q:' .. site
if mode == 'fetched' then
  if state == '1' then redis.call('HSET', KEYS[3], key, htoken .. '|' .. site .. '|0') end
else
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[5], key)
  if mode == 'done' then
    redis.call('HDEL', KEYS[2], key)
    local runs = prefix .. 'frontier:runs:' .. key
    watchers = redis.call('SMEMBERS', runs)
    redis.call('DEL', runs)
  else
    if ARGV[8] ~= '' then redis.call('HSET', KEYS[2], key, ARGV[8]) end
    local offset = tonumber(ARGV[9])
    local score = now + offset
    if offset < 0 then
      local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
      score = math.min(now, head[2] and tonumber(head[2]) - 1 or now)
    end
    redis.call('ZADD', queue, string.format('%d', score), key)
    freed = true
  end
end
if freed then
  local active = tonumber(redis.call('HGET', KEYS[4], site) or '0')
  if active <= 0 then redis.call('HDEL', KEYS[4], site) end
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] and active < tonumber(ARGV[5]) then
    local pace = tonumber(redis.call('GET', pace_key) or '0')
    redis.call('ZADD', KEYS[1], string.format('%d', math.max(pace, tonumber(head[2]))), site)
  end
end
if watchers then
  table.insert(watchers, 1, 1)
  return watchers
end
return 1
