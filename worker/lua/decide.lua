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
--   e<N>:lsh:*         bucket table of LSH band entries (see "bucket tables" below)
--   e<N>:txt:*         bucket table of exact-text entries
--   e<N>:syndicated    zset   doc id -> copies found in this epoch
--   e<N>:failed        hash   url key (hex) -> failed item (written by mark.lua; removed here)
-- and prefix .. "heal", a zset of url keys (hex) -> when a failed item is tried again;
-- prefix .. "source:" .. source counts the articles queued from each source (total_queued).
-- Records: doc id -> fixed-size record (signature, shingle count, kind, time,
-- stream id, text hash) in string sig:<id // shard> (articles) or hash seedrec (seeds).
--
-- ARGV[1] is a JSON header of named values; the binary ones follow it in place:
--   header: mode (check | commit | seed), prefix, shingles, short (exact match only),
--           j_thr, c_thr, now, epochs (current first: ["seed", "2045", "2044"]),
--           expire_at (keys written in the current epoch), stream, seed_name, url, source,
--           max_report (candidates reported), rec_size, shard_size (records per key),
--           base (buckets of a new table), publish_copies, shard_buckets (buckets per key
--           of a table), nbands, replace (commit: a forced attempt, which decides again an
--           item whose URL is failed or off topic), member (url_key in hex: its field in
--           e<N>:failed and its member of heal, removed when a forced attempt succeeds)
--   ARGV[2] url_key (8 bytes)   ARGV[3] text_key (8 bytes)
--   ARGV[4] sig: num_perm bytes, the low 8 bits of each MinHash value
--   ARGV[5] head: the message JSON missing its end, ending in "dedup": ("" unless commit)
--   ARGV[6 .. 5 + nbands] the 8-byte band hashes
local H = cjson.decode(ARGV[1])
local mode, prefix = H.mode, H.prefix
local url_key, text_key, sig, head = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local BAND0 = 5  -- ARGV[BAND0 + b] is band b's hash
local shingles = tonumber(H.shingles)
local short = H.short
local j_thr, c_thr = tonumber(H.j_thr), tonumber(H.c_thr)
local now = tonumber(H.now)
local epochs = H.epochs
local expire_at = tonumber(H.expire_at)
local stream, seed_name, url, source = H.stream, H.seed_name, H.url, H.source
local max_report = tonumber(H.max_report)
local rec_size, shard_size, base = tonumber(H.rec_size), tonumber(H.shard_size), tonumber(H.base)
local publish_copies = H.publish_copies
local nb = tonumber(H.nbands)
local sig_len = string.len(sig)
local nperm = sig_len
local SLOT, SLOTS = 8, 8
local BUCKET = SLOT * SLOTS
-- the epoch new entries go to: seeds to "seed", articles to the current one
local home = (mode == "seed") and "seed" or epochs[2]

local function ekey(ep, name) return prefix .. "e" .. ep .. ":" .. name end

local function expire(key)
  if home ~= "seed" then redis.call("EXPIREAT", key, expire_at) end
end

-- ---- bucket tables ------------------------------------------------------------
-- A table is a string of 64-byte buckets of eight 8-byte slots (4-byte key, 4-byte id;
-- id 0 = empty). An entry's home is bucket key % size; it goes into the first free slot
-- of its home or the next bucket (both read with one GETRANGE), else into the table's
-- small overflow hash. When the table is 60% full a table twice as large is started and
-- every insert moves two old buckets into it (incremental rehash, as Redis' own dicts
-- do), so a lookup reads at most two tables: its cost does not grow with the index.
-- meta e<N>:<t>:m  hash  g (generation), S (buckets of gen g), n (entries), mig (next
-- old bucket to move, present while rehashing); tables e<N>:<t>:<g>; overflow e<N>:<t>:o
local LOAD = 0.6

-- a table's meta is read once per run of this script and kept here (false: no table);
-- inserts change it here, and flush_metas() writes the changed ones back at the end
local metas, dirty = {}, {}  -- dirty: meta keys in the order first changed

local function meta(tname, ep)
  local mkey = ekey(ep, tname .. ":m")
  local m = metas[mkey]
  if m == nil then
    local v = redis.call("HMGET", mkey, "g", "S", "n", "mig")
    m = v[1] and {g = tonumber(v[1]), S = tonumber(v[2]), n = tonumber(v[3]), mig = v[4] and tonumber(v[4])}
      or false
    metas[mkey] = m
  end
  return m or nil
end

local function flush_metas()
  for _, mkey in ipairs(dirty) do
    local m = metas[mkey]
    redis.call("HSET", mkey, "g", m.g, "S", m.S, "n", m.n)
    if m.mig then redis.call("HSET", mkey, "mig", m.mig) else redis.call("HDEL", mkey, "mig") end
    expire(mkey)
  end
end

-- whether a table has an overflow hash (most have none: no HGET per lookup then)
local overflows = {}

local function has_overflow(okey)
  if overflows[okey] == nil then overflows[okey] = redis.call("EXISTS", okey) == 1 end
  return overflows[okey]
end

-- a table is split over keys of at most SHARD_BUCKETS buckets (Redis strings stop at 512 MB)
local SHARD_BUCKETS = tonumber(H.shard_buckets)

local function loc(tkey, b)  -- the key and byte offset of bucket b
  return tkey .. "." .. math.floor(b / SHARD_BUCKETS), (b % SHARD_BUCKETS) * BUCKET
end

local function read_bucket(tkey, b)
  local key, off = loc(tkey, b)
  return redis.call("GETRANGE", key, off, off + BUCKET - 1)
end

local function read_pair(tkey, size, b)  -- bucket b and the next one (wrapping)
  local k1, o1 = loc(tkey, b)
  local k2, o2 = loc(tkey, (b + 1) % size)
  if k1 == k2 and o2 == o1 + BUCKET then return redis.call("GETRANGE", k1, o1, o1 + 2 * BUCKET - 1) end
  return redis.call("GETRANGE", k1, o1, o1 + BUCKET - 1) .. redis.call("GETRANGE", k2, o2, o2 + BUCKET - 1)
end

local function allocate(tkey, size)  -- a new table, every shard allocated whole, with its expiry
  for shard = 0, math.ceil(size / SHARD_BUCKETS) - 1 do
    local n = math.min(SHARD_BUCKETS, size - shard * SHARD_BUCKETS)
    redis.call("SETRANGE", tkey .. "." .. shard, n * BUCKET - 1, "\0")
    expire(tkey .. "." .. shard)
  end
end

local function drop(tkey, size)
  for shard = 0, math.ceil(size / SHARD_BUCKETS) - 1 do redis.call("DEL", tkey .. "." .. shard) end
end

local function scan(b, fp, out)
  local s = 1
  while true do
    local i = string.find(b, fp, s, true)
    if not i then return end
    if (i - 1) % SLOT == 0 then
      local id = struct.unpack("<I4", b, i + 4)
      if id > 0 then out[#out + 1] = id end
      s = i + SLOT
    else
      s = i + 1
    end
  end
end

local function tbl_find(tname, ep, h8, out)
  local m = meta(tname, ep)
  if not m then return end
  local fp = string.sub(h8, 1, 4)
  local sel = struct.unpack("<I4", h8, 1)
  scan(read_pair(ekey(ep, tname .. ":" .. m.g), m.S, sel % m.S), fp, out)
  if m.mig then
    local so = m.S / 2
    scan(read_pair(ekey(ep, tname .. ":" .. (m.g - 1)), so, sel % so), fp, out)
  end
  local okey = ekey(ep, tname .. ":o")
  local o = has_overflow(okey) and redis.call("HGET", okey, fp)
  if o then
    for p = 1, string.len(o), 4 do out[#out + 1] = struct.unpack("<I4", o, p) end
  end
end

-- put (fp, id) into a table; false when its home bucket and the next one are full
local function place(tkey, size, fp, id)
  local b = struct.unpack("<I4", fp, 1) % size
  local pair = read_pair(tkey, size, b)
  for k = 0, 2 * SLOTS - 1 do
    if struct.unpack("<I4", pair, k * SLOT + 5) == 0 then
      local key, off = loc(tkey, (b + math.floor(k / SLOTS)) % size)
      redis.call("SETRANGE", key, off + (k % SLOTS) * SLOT, fp .. struct.pack("<I4", id))
      return true
    end
  end
  return false
end

local function overflow(okey, fp, id)
  redis.call("HSET", okey, fp, (redis.call("HGET", okey, fp) or "") .. struct.pack("<I4", id))
  overflows[okey] = true
  expire(okey)
end

local MIGRATE_PER_INSERT = 8

local function tbl_insert(tname, h8, id)
  local mkey, okey = ekey(home, tname .. ":m"), ekey(home, tname .. ":o")
  local m = meta(tname, home)
  if not m then
    m = {g = 1, S = base, n = 0}
    metas[mkey] = m
    allocate(ekey(home, tname .. ":1"), base)
  end
  if not dirty[mkey] then dirty[#dirty + 1], dirty[mkey] = mkey, true end
  local tkey = ekey(home, tname .. ":" .. m.g)
  local fp = string.sub(h8, 1, 4)
  if not place(tkey, m.S, fp, id) then overflow(okey, fp, id) end
  m.n = m.n + 1
  if m.mig then  -- move some more old buckets into the new table
    local so = m.S / 2
    local old = ekey(home, tname .. ":" .. (m.g - 1))
    for b = m.mig, math.min(m.mig + MIGRATE_PER_INSERT - 1, so - 1) do
      local bucket = read_bucket(old, b)
      for k = 0, SLOTS - 1 do
        local oid = struct.unpack("<I4", bucket, k * SLOT + 5)
        if oid > 0 then
          local ofp = string.sub(bucket, k * SLOT + 1, k * SLOT + 4)
          if not place(tkey, m.S, ofp, oid) then overflow(okey, ofp, oid) end
        end
      end
    end
    m.mig = m.mig + MIGRATE_PER_INSERT
    if m.mig >= so then
      drop(old, so)
      m.mig = nil
    end
  elseif m.n > m.S * SLOTS * LOAD then  -- start a table twice as large
    m.g, m.S, m.mig = m.g + 1, m.S * 2, 0
    allocate(ekey(home, tname .. ":" .. m.g), m.S)
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

local mine = {string.byte(sig, 1, sig_len)}

-- b-bit MinHash (b = 8): unrelated values agree 1 time in 256, which the estimate removes
local function similarity(other)
  local theirs = {string.byte(other.sig, 1, sig_len)}
  local same = 0
  for p = 1, sig_len do
    if mine[p] == theirs[p] then same = same + 1 end
  end
  local j = math.max(0, (same / nperm - 1 / 256) / (1 - 1 / 256))
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
-- (unless this is a forced attempt and that decision is replaceable: failed or off topic;
-- an article queued, a duplicate or a seed is never decided again)
local replaced = nil
for _, ep in ipairs(epochs) do
  local prior = redis.call("HGET", ekey(ep, "urls"), url_key)
  if prior then
    local c = string.sub(prior, 1, 1)
    if not (H.replace and mode == "commit" and (c == "f" or c == "o" or c == "p" or c == "x")) then return {"seen", prior} end
    replaced = replaced or prior
  end
end

-- a replaced decision leaves no trace: its counter moves down (each item counts once),
-- its failed records and heal entry go
local function forget_replaced()
  if not replaced then return end
  local c = string.sub(replaced, 1, 1)
  local OUTCOME = {o = "off_topic", p = "partial", x = "stale"}
  local outcome = OUTCOME[c] or "failed"
  redis.call("HINCRBY", prefix .. "stats", outcome, -1)
  for _, ep in ipairs(epochs) do
    if ep ~= "seed" then redis.call("HDEL", ekey(ep, "failed"), H.member) end
  end
  redis.call("ZREM", prefix .. "heal", H.member)
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
      tbl_find("lsh", ep, ARGV[BAND0 + b], ids)
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
    forget_replaced()
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
  for b = 1, nb do tbl_insert("lsh", ARGV[BAND0 + b], id) end
end
flush_metas()
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
  if type(source) == "string" and source ~= "" then
    redis.call("HINCRBY", prefix .. "source:" .. source, "total_queued", 1)  -- ingest status
  end
  forget_replaced()
end
local kind = (mode == "seed") and "s" or "a"
local rec = sig .. struct.pack("<I4c1I4I8I4c8", shingles, kind, now, ms, seq, text_key)
rec = rec .. string.rep("\0", rec_size - string.len(rec))
if mode == "seed" then
  redis.call("HSET", prefix .. "seedrec", id, rec)
else
  local key = prefix .. "sig:" .. math.floor(id / shard_size)
  if redis.call("STRLEN", key) == 0 then  -- allocate the shard whole: no growth by doubling
    redis.call("SETRANGE", key, shard_size * rec_size - 1, "\0")
  end
  redis.call("SETRANGE", key, (id % shard_size) * rec_size, rec)
  expire(key)
end
return {(mode == "seed") and "seeded" or "queued", detail, id, sid}
