-- Record a decision that never reaches decide.lua (off topic, failed), or a further key
-- (an item's GUID) of one that did: atomically, keeping any earlier decision unless a
-- forced attempt replaces a replaceable one; a failure's record and its heal time with it.
--
-- KEYS: 1 the hash decisions are written to (the current epoch's urls), 2 stats,
--       3 failures (newest final failures), 4 heal (zset), 5 the current epoch's failed
--       hash, then every live epoch's urls hash (nurls of them), then every live
--       epoch's failed hash
-- ARGV[1] is a JSON header: expire_at (of KEYS[1] and KEYS[5]), trim (failures kept - 1),
--         decision, outcome ("" = count nothing), failure (JSON, "" = none),
--         check (true: do nothing when the first key is decided in any live epoch),
--         replace (true: a forced attempt; a failed, partial or off-topic decision, "f:...", "p:..." or "o",
--         is overwritten, and with check its outcome's counter moves down),
--         nurls, member (the URL key in hex: the failed hashes' field, heal's member),
--         record (the failed item's JSON, "" = none: written to KEYS[5]),
--         heal_at (when the failed item is tried again; 0 = never by itself),
--         clear (true: the item is no longer failed: its records and heal entry go)
-- ARGV[2 ..] the item's keys, its URL key first
-- Returns 1 when the decision was written, 0 when the item was decided before (and kept).
local H = cjson.decode(ARGV[1])
local nurls = tonumber(H.nurls)
local URLS0, FAILED0 = 5, 5 + nurls  -- KEYS[URLS0 + i], KEYS[FAILED0 + i]: live epoch i

local function replaceable(d)
  local c = string.sub(d, 1, 1)
  return c == "f" or c == "o" or c == "p" or c == "x"
end

local OUTCOME = {q = "queued", d = "duplicate", s = "duplicate", o = "off_topic", x = "stale", p = "partial", f = "failed"}

local old = nil  -- the replaced decision of the URL key
if H.check then
  for i = 1, nurls do
    local prior = redis.call('HGET', KEYS[URLS0 + i], ARGV[2])
    if prior then
      if not (H.replace and replaceable(prior)) then return 0 end
      old = old or prior
    end
  end
end
for i = 2, #ARGV do
  if H.replace then
    local prior = redis.call('HGET', KEYS[1], ARGV[i])
    if not prior or replaceable(prior) then redis.call('HSET', KEYS[1], ARGV[i], H.decision) end
  else
    redis.call('HSETNX', KEYS[1], ARGV[i], H.decision)
  end
end
redis.call('EXPIREAT', KEYS[1], H.expire_at)
if H.outcome ~= '' then redis.call('HINCRBY', KEYS[2], H.outcome, 1) end
if old then redis.call('HINCRBY', KEYS[2], OUTCOME[string.sub(old, 1, 1)] or "failed", -1) end
if H.failure ~= '' then
  redis.call('LPUSH', KEYS[3], H.failure)
  redis.call('LTRIM', KEYS[3], 0, tonumber(H.trim))
end
if H.clear or H.record ~= '' then
  for i = 1, #KEYS - FAILED0 do redis.call('HDEL', KEYS[FAILED0 + i], H.member) end
  redis.call('ZREM', KEYS[4], H.member)
end
if H.record ~= '' then
  redis.call('HSET', KEYS[5], H.member, H.record)
  redis.call('EXPIREAT', KEYS[5], H.expire_at)
  if tonumber(H.heal_at) > 0 then redis.call('ZADD', KEYS[4], H.heal_at, H.member) end
end
return 1
