-- Record a decision that never reaches decide.lua (off topic, failed), or a further key
-- (an item's GUID) of one that did: atomically, keeping any earlier decision.
--
-- KEYS: 1 the hash decisions are written to (the current epoch's urls), 2 stats,
--       3 failures (newest final failures), then every live epoch's urls hash
-- ARGV[1] is a JSON header: expire_at (of KEYS[1]), trim (failures kept - 1),
--         decision, outcome ("" = count nothing), failure (JSON, "" = none),
--         check (true: do nothing when the first key is decided in any live epoch)
-- ARGV[2 ..] the item's keys, its URL key first
-- Returns 1 when the decision was written, 0 when the item was decided before.
local H = cjson.decode(ARGV[1])
if H.check then
  for i = 4, #KEYS do
    if redis.call('HEXISTS', KEYS[i], ARGV[2]) == 1 then return 0 end
  end
end
for i = 2, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], H.decision) end
redis.call('EXPIREAT', KEYS[1], H.expire_at)
if H.outcome ~= '' then redis.call('HINCRBY', KEYS[2], H.outcome, 1) end
if H.failure ~= '' then
  redis.call('LPUSH', KEYS[3], H.failure)
  redis.call('LTRIM', KEYS[3], 0, tonumber(H.trim))
end
return 1
