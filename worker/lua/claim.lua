-- Claim a new item for a poll task unless another task holds it.
-- KEYS[1] the item's claim key; ARGV[1] the poll task's id (its token), ARGV[2] seconds.
-- The same task delivered again (after a crash) gets its own claim back.
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
