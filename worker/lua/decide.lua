-- Decide whether an article is new and, if it is, index and publish it: atomically.
--
-- One script, so no other worker can slip between "is it new?" and "queue it"
-- (two copies of one story arriving at once queue exactly one), and a worker
-- killed mid-way leaves either nothing or everything written (Redis runs a
-- script to its end; the append-only file records its effects as one unit).
--
-- Keys are derived from the prefix, so this needs a standalone Redis (not Cluster).
--
-- The index is split into epochs (``e<N>`` = floor(time / epoch length), and ``eseed``
-- for seeds, which never expire). Every key of epoch N expires at
-- (N + 1) * epoch + retention, so old articles leave the index without a sweeper.
-- Per epoch:
--   e<N>:urls          hash   url/guid key -> decision (q:<id>, d:<id>, o, f:<reason>)
--   e<N>:lsh:<L>       string bucket table level L of LSH band entries
--   e<N>:txt:<L>       string bucket table level L of exact-text entries
--   e<N>:<table>:n     number of levels of a table
--   e<N>:syndicated    zset   doc id -> copies found in this epoch
-- A bucket table is a string of 64-byte buckets of eight 8-byte slots
-- (4-byte fingerprint, 4-byte doc id; id 0 = empty). Level L has base * 2^L
-- buckets; an entry goes into the first level whose bucket has room, a lookup
-- reads its bucket on every level. ~10 bytes an entry, whatever the index size.
-- Records: doc id -> fixed-size record (signature, shingle count, kind, time,
-- stream id, text hash) in string sig:<id // shard> (articles) or hash seedrec (seeds).
--
-- ARGV:
--  1 mode       check | commit | seed
--  2 prefix     3 url_key (8 bytes)   4 text_key (8 bytes)
--  5 sig        num_perm little-endian uint16   6 shingles   7 short ("1" = exact match only)
--  8 j_thr      9 c_thr
-- 10 now       11 epochs: comma-separated, current first ("seed,2045,2044")
-- 12 expire_at (for keys written in the current epoch)
-- 13 stream    14 head (message JSON missing its end, ending in "dedup":)
-- 15 seed name 16 url  17 source  18 max reported candidates
-- 19 record size  20 record shard size  21 base buckets  22 publish copies ("1")
-- 23 nbands, then nbands 8-byte band hashes
local mode, prefix, url_key, text_key, sig = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local shingles = tonumber(ARGV[6])
local short = ARGV[7] == "1"
local j_thr, c_thr = tonumber(ARGV[8]), tonumber(ARGV[9])
local now = tonumber(ARGV[10])
local epochs = {}
for e in string.gmatch(ARGV[11], "[^,]+") do epochs[#epochs + 1] = e end
local expire_at = tonumber(ARGV[12])
local stream, head, seed_name, url, source = ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17]
local max_report = tonumber(ARGV[18])
local rec_size, shard_size, base = tonumber(ARGV[19]), tonumber(ARGV[20]), tonumber(ARGV[21])
local publish_copies = ARGV[22] == "1"
local nb = tonumber(ARGV[23])
local sig_len = string.len(sig)
local nperm = sig_len / 2
local SLOT, SLOTS = 8, 8
local BUCKET = SLOT * SLOTS
-- the epoch new entries go to: seeds to "seed", articles to the current one
local home = (mode == "seed") and "seed" or epochs[2]

local function ekey(ep, name) return prefix .. "e" .. ep .. ":" .. name end

local function expire(key)
  if home ~= "seed" then redis.call("EXPIREAT", key, expire_at) end
end

-- ---- bucket tables ------------------------------------------------------------
local function bucket_pos(h8, level)
  local sel = struct.unpack("<I4", h8, 5)
  return (sel % (base * 2 ^ level)) * BUCKET
end

local function tbl_find(tname, ep, h8, out)
  local fp = string.sub(h8, 1, 4)
  local n = tonumber(redis.call("GET", ekey(ep, tname .. ":n")) or "0")
  for level = 0, n - 1 do
    local pos = bucket_pos(h8, level)
    local b = redis.call("GETRANGE", ekey(ep, tname .. ":" .. level), pos, pos + BUCKET - 1)
    local s = 1
    while true do
      local i = string.find(b, fp, s, true)
      if not i then break end
      if (i - 1) % SLOT == 0 then
        local id = struct.unpack("<I4", b, i + 4)
        if id > 0 then out[#out + 1] = id end
        s = i + SLOT
      else
        s = i + 1
      end
    end
  end
end

local function tbl_insert(tname, h8, id)
  local fp = string.sub(h8, 1, 4)
  local nkey = ekey(home, tname .. ":n")
  local n = tonumber(redis.call("GET", nkey) or "0")
  for level = 0, n do
    local key = ekey(home, tname .. ":" .. level)
    local pos = bucket_pos(h8, level)
    local b = ""
    if level < n then b = redis.call("GETRANGE", key, pos, pos + BUCKET - 1) end
    for k = 0, SLOTS - 1 do
      local off = k * SLOT
      if string.len(b) < off + SLOT or struct.unpack("<I4", b, off + 5) == 0 then
        if level == n then  -- a new, twice larger level, allocated whole
          redis.call("SETRANGE", key, base * 2 ^ level * BUCKET - 1, "\0")
          redis.call("SET", nkey, n + 1)
          expire(nkey)
        end
        redis.call("SETRANGE", key, pos + off, fp .. struct.pack("<I4", id))
        expire(key)
        return
      end
    end
  end
end

-- ---- records ------------------------------------------------------------------
local seed_ids = redis.call("HKEYS", prefix .. "seeds")
local is_seed = {}
for _, v in ipairs(seed_ids) do is_seed[tonumber(v)] = true end

local function read_rec(id)
  local rec
  if is_seed[id] then
    rec = redis.call("HGET", prefix .. "seedrec", id)
    if not rec then return nil end
  else
    local off = (id % shard_size) * rec_size
    rec = redis.call("GETRANGE", prefix .. "sig:" .. math.floor(id / shard_size), off, off + rec_size - 1)
  end
  if string.len(rec) < rec_size then return nil end
  local n, kind, ts, ms, seq, th = struct.unpack("<I4c1I4I8I4c8", rec, sig_len + 1)
  if n == 0 and kind == "\0" then return nil end  -- expired shard re-created by a later write
  return {sig = string.sub(rec, 1, sig_len), shingles = n, kind = kind, ts = ts, text = th,
          stream_id = (ms > 0) and string.format("%d-%d", ms, seq) or false}
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

local function describe(id, j, c, match)
  local r = read_rec(id)
  local d = {id = id, similarity = j, containment = c, match = match or cjson.null}
  if r then
    d.kind = (r.kind == "s") and "seed" or "article"
    d.stream_id = r.stream_id or cjson.null
    d.indexed_at = r.ts
  end
  if d.kind == "seed" then d.name = redis.call("HGET", prefix .. "seeds", id) or cjson.null end
  return d
end

-- ---- 1. the same canonical URL was decided before: report that, change nothing -----
for _, ep in ipairs(epochs) do
  local prior = redis.call("HGET", ekey(ep, "urls"), url_key)
  if prior then return {"seen", prior} end
end

-- ---- 2. the same normalised text -----------------------------------------------
local best_id, best_j, best_c, match = nil, -1, 0, nil
local ranked = {}
for _, ep in ipairs(epochs) do
  local ids = {}
  tbl_find("txt", ep, text_key, ids)
  for _, id in ipairs(ids) do
    local r = read_rec(id)
    if r and r.text == text_key and not match then
      best_id, best_j, best_c, match = id, 1, 1, "text"
      ranked[1] = {id, 1, 1}
    end
  end
end

-- ---- 3. near duplicates: LSH candidates, then signature comparison --------------
if not match and not short then
  local seen = {}
  for _, ep in ipairs(epochs) do
    for b = 1, nb do
      local ids = {}
      tbl_find("lsh", ep, ARGV[23 + b], ids)
      for _, id in ipairs(ids) do
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

-- the nearest seed is always reported (there are few seeds), shared bands or not
local nearest_seed = cjson.null
if not short then
  local sj, sc, sid = -1, -1, nil
  for _, v in ipairs(seed_ids) do
    local r = read_rec(tonumber(v))
    if r and r.shingles > 0 then
      local j, c = similarity(r)
      if math.max(j, c) > math.max(sj, sc) then sj, sc, sid = j, c, tonumber(v) end
    end
  end
  if sid then nearest_seed = describe(sid, sj, sc, (sid == best_id) and match) end
end

table.sort(ranked, function(a, b) return math.max(a[2], a[3]) > math.max(b[2], b[3]) end)
local report = {}
for k = 1, math.min(#ranked, max_report) do
  report[k] = describe(ranked[k][1], ranked[k][2], ranked[k][3], (ranked[k][1] == best_id) and match)
end
local nearest = cjson.null
if best_id then nearest = describe(best_id, best_j, best_c, match) end
local verdict = match and "duplicate" or "new"
local thresholds = {jaccard = j_thr, containment = c_thr}
local detail = cjson.encode({verdict = verdict, nearest = nearest, nearest_seed = nearest_seed,
                             candidates = report, thresholds = thresholds})

if mode == "check" then return {verdict, detail} end

local urls = ekey(home, "urls")
if match then
  if mode == "commit" then
    redis.call("HSET", urls, url_key, "d:" .. best_id)
    expire(urls)
    redis.call("HINCRBY", prefix .. "stats", "duplicate", 1)
    -- "also published by": how widely a story was syndicated
    local copy = {url = url, source = source, at = now, similarity = best_j, match = match}
    local copies = prefix .. "copies:" .. best_id
    redis.call("RPUSH", copies, cjson.encode(copy))
    redis.call("LTRIM", copies, -1000, -1)
    expire(copies)
    local synd = ekey(home, "syndicated")
    redis.call("ZINCRBY", synd, 1, best_id)
    expire(synd)
    if publish_copies then
      copy.schema_version, copy.type, copy.of = 1, "copy", nearest
      redis.call("XADD", stream, "*", "copy", cjson.encode(copy))
    end
  end
  return {verdict, detail}
end

-- ---- 4. new: index it and (articles only) publish it ----------------------------
local id = redis.call("INCR", prefix .. "docs:n")
tbl_insert("txt", text_key, id)
if not short then
  for b = 1, nb do tbl_insert("lsh", ARGV[23 + b], id) end
end
local ms, seq, sid = 0, 0, false
if mode == "seed" then
  redis.call("HSET", prefix .. "seeds", id, seed_name)
  redis.call("HSET", urls, url_key, "s:" .. id)
else
  local dedup = cjson.encode({verdict = "new", nearest = nearest, nearest_seed = nearest_seed,
                              thresholds = thresholds})
  sid = redis.call("XADD", stream, "*", "article", head .. dedup .. "}")
  local dash = string.find(sid, "-", 1, true)
  ms, seq = tonumber(string.sub(sid, 1, dash - 1)), tonumber(string.sub(sid, dash + 1))
  redis.call("HSET", urls, url_key, "q:" .. id)
  expire(urls)
  redis.call("HINCRBY", prefix .. "stats", "queued", 1)
end
local kind = (mode == "seed") and "s" or "a"
local rec = sig .. struct.pack("<I4c1I4I8I4c8", shingles, kind, now, ms, seq, text_key)
rec = rec .. string.rep("\0", rec_size - string.len(rec))
if mode == "seed" then
  redis.call("HSET", prefix .. "seedrec", id, rec)
else
  local key = prefix .. "sig:" .. math.floor(id / shard_size)
  redis.call("SETRANGE", key, (id % shard_size) * rec_size, rec)
  expire(key)
end
return {(mode == "seed") and "seeded" or "queued", detail, id, sid}
