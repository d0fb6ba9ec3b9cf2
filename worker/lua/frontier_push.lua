-- Put an article in its site's queue of the frontier (worker/frontier.py), and the site
-- on the ready list if it may take a request.
-- KEYS[1] frontier:sites  KEYS[2] frontier:entries  KEYS[3] frontier:leased  KEYS[4] frontier:active
-- ARGV[1] key prefix, ARGV[2] site, ARGV[3] item key, ARGV[4] entry (JSON),
-- ARGV[5] not before (ms from now, fractions keep a batch in order; <0: the head of its queue), ARGV[6] per-site concurrency,
-- ARGV[7] "keep": an entry already waiting keeps its place and its payload,
-- ARGV[8] the run asking for it ('' = none).
-- An article already waiting or taken that another run asks for gets that run in its
-- watchers (frontier:runs:<key>): its decision is reported to them too (release.lua).
-- Returns 1 when queued (or moved), 0 when a task holds the article now (it is being decided).
local site, key = ARGV[2], ARGV[3]
local queue = ARGV[1] .. 'frontier:q:' .. site
local runs = ARGV[1] .. 'frontier:runs:' .. key
if redis.call('HEXISTS', KEYS[3], key) == 1 then
  if ARGV[8] ~= '' then redis.call('SADD', runs, ARGV[8]) end
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local offset = tonumber(ARGV[5])
local score = now + offset
if offset < 0 then
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  score = math.min(now, head[2] and tonumber(head[2]) - 1 or now)
end
if redis.call('ZSCORE', queue, key) then
  if ARGV[8] ~= '' then redis.call('SADD', runs, ARGV[8]) end
  if ARGV[7] == 'keep' then return 1 end
end
redis.call('HSET', KEYS[2], key, ARGV[4])
redis.call('ZADD', queue, string.format('%.3f', score), key)
local active = tonumber(redis.call('HGET', KEYS[4], site) or '0')
if active < tonumber(ARGV[6]) then
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  local pace = tonumber(redis.call('GET', ARGV[1] .. 'pace:' .. site) or '0')
  redis.call('ZADD', KEYS[1], string.format('%d', math.max(pace, tonumber(head[2]))), site)
end
return 1
