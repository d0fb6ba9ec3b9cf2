-- Decide whether an article is new and, if it is, index and publish it: atomically.
--
-- One script so that no other worker can slip between "is it new?" and "queue it"
-- (two copies of one story arriving at once queue exactly one), and so that a
-- worker killed mid-way leaves either nothing or everything written.
--
-- KEYS: none are declared, the keys are derived from the prefix (standalone Redis only).
-- ARGV:
--  1 mode         check | commit | seed
--  2 prefix       key prefix, e.g. "ingest:"
--  3 url_key      8-byte hash of the canonical URL
--  4 text_key     8-byte hash of the normalised text
--  5 sig          stored signature: num_perm little-endian uint16
--  6 shingles     number of distinct shingles
--  7 short        "1": too short for shingle statistics, exact match only
--  8 j_thr        Jaccard threshold
--  9 c_thr        containment threshold
-- 10 nbands       number of LSH bands B, then B band keys and B band fields
-- then: now (unix s), stream key, message head (JSON object missing its end, ending in
--       "dedup":), seed name, url, source, max candidates reported, record size, shard size
local mode, prefix, url_key, text_key, sig = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local shingles = tonumber(ARGV[6])
local short = ARGV[7] == "1"
local j_thr, c_thr = tonumber(ARGV[8]), tonumber(ARGV[9])
local nb = tonumber(ARGV[10])
local i0 = 11 + 2 * nb
local now = tonumber(ARGV[i0])
local stream, head, seed_name = ARGV[i0 + 1], ARGV[i0 + 2], ARGV[i0 + 3]
local url, source = ARGV[i0 + 4], ARGV[i0 + 5]
local max_report = tonumber(ARGV[i0 + 6])
local rec_size, shard_size = tonumber(ARGV[i0 + 7]), tonumber(ARGV[i0 + 8])
local sig_len = string.len(sig)
local nperm = sig_len / 2

local urls, texts = prefix .. "urls", prefix .. "texts"

local function rec_loc(id)
  return prefix .. "sig:" .. math.floor(id / shard_size), (id % shard_size) * rec_size
end

local function read_rec(id)
  local key, off = rec_loc(id)
  local rec = redis.call("GETRANGE", key, off, off + rec_size - 1)
  if string.len(rec) < rec_size then return nil end
  local n, kind, ts, ms, seq = struct.unpack("<I4c1I4I8I4", rec, sig_len + 1)
  return {sig = string.sub(rec, 1, sig_len), shingles = n, kind = kind, ts = ts,
          stream_id = (ms > 0) and (string.format("%d-%d", ms, seq)) or false}
end

local function similarity(other)
  local same = 0
  for p = 1, sig_len, 2 do
    if string.sub(sig, p, p + 1) == string.sub(other.sig, p, p + 1) then same = same + 1 end
  end
  local j = same / nperm
  local small = math.min(shingles, other.shingles)
  local c = 0
  if small > 0 then c = math.min(1, (j * (shingles + other.shingles) / (1 + j)) / small) end
  return j, c
end

local function describe(id, j, c, kind)
  local r = read_rec(id)
  local d = {id = id, similarity = j, containment = c, match = kind}
  if r then
    d.kind = (r.kind == "s") and "seed" or "article"
    d.stream_id = r.stream_id or cjson.null
    d.indexed_at = r.ts
  end
  if d.kind == "seed" then d.name = redis.call("HGET", prefix .. "seeds", id) or cjson.null end
  return d
end

-- 1. the same canonical URL was decided before: report that decision, change nothing
local prior = redis.call("HGET", urls, url_key)
if prior then return {"seen", prior} end

-- 2. the same normalised text
local best_id, best_j, best_c, match = nil, -1, 0, nil
local ranked = {}
local tid = redis.call("HGET", texts, text_key)
if tid then
  best_id, best_j, best_c, match = tonumber(tid), 1, 1, "text"
  ranked[1] = {best_id, 1, 1}
elseif not short then
  -- 3. near duplicates: candidates from the LSH bands, then signature comparison
  local seen = {}
  for b = 1, nb do
    local v = redis.call("HGET", ARGV[10 + b], ARGV[10 + nb + b])
    if v then
      for p = 1, string.len(v), 4 do
        local id = struct.unpack("<I4", v, p)
        if not seen[id] then
          seen[id] = true
          local r = read_rec(id)
          if r and r.shingles > 0 then
            local j, c = similarity(r)
            ranked[#ranked + 1] = {id, j, c}
            local score, best = math.max(j, c), math.max(best_j, best_c)
            if score > best or (score == best and j > best_j) then
              best_id, best_j, best_c = id, j, c
            end
          end
        end
      end
    end
  end
  if best_id and (best_j >= j_thr or best_c >= c_thr) then match = "near" end
end

table.sort(ranked, function(a, b) return math.max(a[2], a[3]) > math.max(b[2], b[3]) end)
local report = {}
for k = 1, math.min(#ranked, max_report) do
  report[k] = describe(ranked[k][1], ranked[k][2], ranked[k][3], (k == 1) and match or false)
end
local nearest = cjson.null
if best_id then nearest = describe(best_id, best_j, best_c, match or false) end
local verdict = match and "duplicate" or "new"
local detail = cjson.encode({verdict = verdict, nearest = nearest, candidates = report})

if mode == "check" then return {verdict, detail} end

if match then
  if mode == "commit" then
    redis.call("HSET", urls, url_key, "d:" .. best_id)
    redis.call("HINCRBY", prefix .. "stats", "duplicate", 1)
    -- "also published by": how widely a story was syndicated
    local copies = prefix .. "copies:" .. best_id
    redis.call("RPUSH", copies, cjson.encode({url = url, source = source, at = now,
                                              similarity = best_j, match = match}))
    redis.call("LTRIM", copies, -1000, -1)
  end
  return {verdict, detail}
end

-- 4. new: index it and (articles only) publish it
local id = redis.call("INCR", prefix .. "docs:n")
redis.call("HSET", texts, text_key, id)
if not short then
  for b = 1, nb do
    local key, field = ARGV[10 + b], ARGV[10 + nb + b]
    local v = redis.call("HGET", key, field) or ""
    redis.call("HSET", key, field, v .. struct.pack("<I4", id))
  end
end
local ms, seq, sid = 0, 0, false
if mode == "seed" then
  redis.call("HSET", prefix .. "seeds", id, seed_name)
  redis.call("HSET", urls, url_key, "s:" .. id)
else
  local dedup = cjson.encode({verdict = "new", nearest = nearest,
                              thresholds = {jaccard = j_thr, containment = c_thr}})
  sid = redis.call("XADD", stream, "*", "article", head .. dedup .. "}")
  local dash = string.find(sid, "-", 1, true)
  ms, seq = tonumber(string.sub(sid, 1, dash - 1)), tonumber(string.sub(sid, dash + 1))
  redis.call("HSET", urls, url_key, "q:" .. id)
  redis.call("HINCRBY", prefix .. "stats", "queued", 1)
end
-- the per-day index lets retention drop old articles (seeds are never listed)
if mode ~= "seed" then redis.call("RPUSH", prefix .. "docs:day:" .. math.floor(now / 86400), id) end
local key, off = rec_loc(id)
local kind = (mode == "seed") and "s" or "a"
redis.call("SETRANGE", key, off,
  sig .. struct.pack("<I4c1I4I8I4", shingles, kind, now, ms, seq) ..
  string.rep("\0", rec_size - sig_len - 21))
return {(mode == "seed") and "seeded" or "queued", detail, id, sid}
