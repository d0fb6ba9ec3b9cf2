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
--   e<N>:snt:*         bucket table of sentence anchors (a sample of each article's sentences)
--   e<N>:sty:*         bucket table of story keys (a sample of each article's names and numbers)
--   e<N>:stories       zset   story id -> articles queued in it in this epoch (stories of 2+)
-- and prefix .. "story:" .. (id // shard_size): string of 4-byte story ids, one per article.
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
--   then nq sentence keys looked up (the text's smallest), then nanch sentence keys indexed
--   (header: nsents = the text's prose sentences, nq, nanch, anchors_k = anchors per
--   article, s_thr = sentence containment threshold, per_key = ids read per sentence key),
--   then nst story keys (header: story_df = most articles a key may name and still count,
--   story_min = keys shared to join a story, story_window = seconds a story stays open)
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
local nsents, nq, nanch = tonumber(H.nsents or 0), tonumber(H.nq or 0), tonumber(H.nanch or 0)
local anchors_k, s_thr, per_key = tonumber(H.anchors_k or 12), tonumber(H.s_thr or 1), tonumber(H.per_key or 8)
local SENT0 = BAND0 + nb          -- ARGV[SENT0 + i]: a sentence key looked up
local ANCH0 = SENT0 + nq          -- ARGV[ANCH0 + i]: a sentence key indexed
local nst = tonumber(H.nst or 0)
local STORY0 = ANCH0 + nanch      -- ARGV[STORY0 + i]: a story key
local story_df, story_min = tonumber(H.story_df or 50), tonumber(H.story_min or 3)
local story_window = tonumber(H.story_window or 0)
local c_near = tonumber(H.c_near or 0)
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
  local n, kind, ts, ms, seq, th, ns = struct.unpack("<I4c1I4I8I4c8I2", rec, sig_len + 1)
  if n == 0 and kind == "\0" then return nil end  -- expired shard re-created by a later write
  return {sig = string.sub(rec, 1, sig_len), shingles = n, kind = kind, ts = ts, text = th,
          stream_id = (ms > 0) and string.format("%d-%d", ms, seq) or false, sents = ns}
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
  local inter = j * (shingles + other.shingles) / (1 + j)
  local small = math.min(shingles, other.shingles)
  local c, fwd, rev = 0, 0, 0  -- c: of the shorter text; fwd: of this text in the other; rev: the other in this
  if small > 0 then c = math.min(1, inter / small) end
  if shingles > 0 then fwd = math.min(1, inter / shingles) end
  if other.shingles > 0 then rev = math.min(1, inter / other.shingles) end
  return j, c, fwd, rev
end

-- sentence anchors of each article that this text's looked-up sentences hit
local sent_hits = {}
-- how many articles hold each looked-up sentence key (sent_df[i]) and story key
-- (story_dfs[i]): a key held by more than per_key / story_df articles is no evidence, and
-- is not indexed for one more, so no key's entries grow without bound
local sent_df, story_dfs = {}, {}

-- How one candidate compares: (jaccard, containment that decides, sentence share, quotes).
-- Containment of the shorter text decides, except when this text holds the whole other one
-- (by shingles or by sentences) and much more prose besides (more than 1.25x its sentences
-- + 2): then this text quotes the other (a wire item quoted in full), which makes it no
-- copy. The sentence share is the share of this text's sentences estimated to be in the
-- other, from the other's anchors this text holds (at least two), confirmed by half its
-- shingles being in the other.
local function compare(r, id)
  local j, c, fwd, rev = similarity(r)
  local hits = sent_hits[id] or 0
  -- the share of the other's sentences that are in this text, from its anchors this text
  -- holds: only this text's nq smallest sentences were looked up, so hits are scaled up
  local rev_s = 0
  if hits >= 2 and r.sents > 0 and nsents > 0 then
    rev_s = math.min(1, hits / (math.min(anchors_k, r.sents) * math.min(1, nq / nsents)))
  end
  local quotes = (rev >= c_thr or rev_s >= s_thr) and fwd < c_thr and j < j_thr and r.sents > 0
    and nsents > r.sents * 1.25 + 2
  local ce = quotes and fwd or c
  local share = 0
  if not quotes and rev_s > 0 and fwd >= 0.5 then share = math.min(1, rev_s * r.sents / nsents) end
  return j, ce, share, quotes
end

-- A copy: Jaccard, containment or the sentence share over its threshold; or containment
-- within c_near of its threshold corroborated by half of the text's sentences (a truncated
-- copy with junk injected and a paragraph dropped loses shingles at every seam)
local function copied(j, c, share)
  return j >= j_thr or c >= c_thr or share >= s_thr or (c >= c_thr - c_near and share >= 0.5)
end

local function describe(id, j, c, match, share, quotes)
  local r = read_rec(id)
  local d = {id = id, similarity = j, containment = c, match = match or cjson.null}
  if share and share > 0 then d.sentence_share = share end
  if quotes then d.quotes = true end
  if r then
    d.kind = (r.kind == "s") and "seed" or "article"
    d.stream_id = r.stream_id or cjson.null
    d.indexed_at = r.ts
  end
  if d.kind == "seed" then d.name = redis.call("HGET", prefix .. "seeds", id) or cjson.null end
  return d
end

-- ---- stories: the indexed article this one shares the most rare story keys with ---------
local function story_of(id)  -- the story an article joined (its own id when it started one)
  local off = (id % shard_size) * 4
  local v = redis.call("GETRANGE", prefix .. "story:" .. math.floor(id / shard_size), off, off + 3)
  if string.len(v) < 4 then return id end
  local sid = struct.unpack("<I4", v)
  return (sid > 0) and sid or id
end

local function find_story()
  if nst == 0 or mode == "seed" then return nil, {} end
  local shared = {}
  for _, ep in ipairs(epochs) do
    if ep ~= "seed" then
      for i = 1, nst do
        local ids = {}
        tbl_find("sty", ep, ARGV[STORY0 + i], ids)
        story_dfs[i] = (story_dfs[i] or 0) + #ids
        if #ids <= story_df then  -- a key many articles hold is no evidence of one event
          for _, id in ipairs(ids) do shared[id] = (shared[id] or 0) + 1 end
        end
      end
    end
  end
  local related = {}
  for id, n in pairs(shared) do
    if n >= story_min then
      local r = read_rec(id)
      if r and r.kind == "a" and (story_window <= 0 or now - r.ts <= story_window) then
        related[#related + 1] = {id = id, shared = n, similarity = n / nst}
      end
    end
  end
  table.sort(related, function(a, b) return a.shared > b.shared or (a.shared == b.shared and a.id < b.id) end)
  while #related > 5 do table.remove(related) end
  if #related == 0 then return nil, related end
  return story_of(related[1].id), related
end

local function story_json(id, related)  -- cjson writes an empty table as {}, not []
  local parts = {}
  for k, r in ipairs(related) do parts[k] = cjson.encode(r) end
  return '{"id":' .. (id and tostring(id) or "null") .. ',"related":[' .. table.concat(parts, ",") .. "]}"
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
      ranked[1] = {id, 1, 1, 0, false}
    end
  end
end

-- ---- 3. near duplicates: LSH and sentence candidates, then signature comparison --------
local quoted = nil  -- an article this text quotes in full (it is no copy of it)
if not match and not short then
  local seen, cands = {}, {}
  for _, ep in ipairs(epochs) do
    for b = 1, nb do
      local ids = {}
      tbl_find("lsh", ep, ARGV[BAND0 + b], ids)
      for _, id in ipairs(ids) do
        if not seen[id] then seen[id] = true; cands[#cands + 1] = id end
      end
    end
    for i = 1, nq do
      local ids = {}
      tbl_find("snt", ep, ARGV[SENT0 + i], ids)
      sent_df[i] = (sent_df[i] or 0) + #ids
      for k = 1, math.min(#ids, per_key) do
        local id = ids[k]
        sent_hits[id] = (sent_hits[id] or 0) + 1
        if not seen[id] then seen[id] = true; cands[#cands + 1] = id end
      end
    end
  end
  local best_s = 0
  for _, id in ipairs(cands) do
    local r = read_rec(id)
    if r and r.shingles > 0 then
      local j, c, share, quotes = compare(r, id)
      ranked[#ranked + 1] = {id, j, c, share, quotes}
      if quotes and not quoted then quoted = id end
      local score, best = math.max(j, c, share), math.max(best_j, best_c, best_s)
      if score > best or (score == best and j > best_j) then
        best_id, best_j, best_c, best_s = id, j, c, share
      end
    end
  end
  if best_id and copied(best_j, best_c, best_s) then match = "near" end
end

-- the nearest seed is always compared (there are few seeds), shared bands or not, and
-- decides: a text over either threshold against a seed is a copy of it
local nearest_seed = cjson.null
if not short then
  local sj, sc, ss, sid = -1, -1, 0, nil
  for _, v in ipairs(seed_ids) do
    local r = read_rec(tonumber(v))
    if r and r.shingles > 0 then
      local j, c, share = compare(r, tonumber(v))
      if math.max(j, c, share) > math.max(sj, sc, ss) then sj, sc, ss, sid = j, c, share, tonumber(v) end
    end
  end
  if sid and not match and copied(sj, sc, ss) then
    best_id, best_j, best_c, match = sid, sj, sc, "near"
    ranked[#ranked + 1] = {sid, sj, sc, ss, false}
  end
  if sid then nearest_seed = describe(sid, sj, sc, (sid == best_id) and match, ss) end
end

table.sort(ranked, function(a, b) return math.max(a[2], a[3], a[4]) > math.max(b[2], b[3], b[4]) end)
local report = {}
for k = 1, math.min(#ranked, max_report) do
  local x = ranked[k]
  report[k] = describe(x[1], x[2], x[3], (x[1] == best_id) and match, x[4], x[5])
end
local nearest = cjson.null
if best_id then nearest = describe(best_id, best_j, best_c, match) end
local verdict = match and "duplicate" or "new"
local thresholds = {jaccard = j_thr, containment = c_thr, sentences = s_thr}
local quotes = cjson.null
if quoted and not match then quotes = describe(quoted, 0, 0, false) end
local detail = cjson.encode({verdict = verdict, nearest = nearest, nearest_seed = nearest_seed,
                             candidates = report, thresholds = thresholds, quotes = quotes})

if mode == "check" then
  if not match then  -- a short text (a brief) has names and numbers too
    local sid, related = find_story()
    detail = string.sub(detail, 1, -2) .. ',"story":' .. story_json(sid, related) .. "}"
  end
  return {verdict, detail}
end

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
local story_id, related = nil, {}
if mode ~= "seed" then story_id, related = find_story() end  -- before its own keys
tbl_insert("txt", text_key, id)
if not short then
  for b = 1, nb do tbl_insert("lsh", ARGV[BAND0 + b], id) end
  for a = 1, nanch do  -- the anchors are the smallest looked-up keys: sent_df[a] is theirs
    if (sent_df[a] or 0) <= per_key then tbl_insert("snt", ARGV[ANCH0 + a], id) end
  end
end
if mode ~= "seed" then  -- a short text (a brief) joins and makes stories too
  for i = 1, nst do
    if (story_dfs[i] or 0) <= story_df then tbl_insert("sty", ARGV[STORY0 + i], id) end
  end
end
flush_metas()
local ms, seq, sid = 0, 0, false
if mode == "seed" then
  redis.call("HSET", prefix .. "seeds", id, seed_name)
  redis.call("HSET", urls, url_key, "s:" .. id)
else
  local dedup = cjson.encode({verdict = "new", nearest = nearest, nearest_seed = nearest_seed,
                              thresholds = thresholds, quotes = quotes})
  story_id = story_id or id
  local skey = prefix .. "story:" .. math.floor(id / shard_size)
  if redis.call("STRLEN", skey) == 0 then redis.call("SETRANGE", skey, shard_size * 4 - 1, "\0") end
  redis.call("SETRANGE", skey, (id % shard_size) * 4, struct.pack("<I4", story_id))
  expire(skey)
  if story_id ~= id then  -- only stories of two articles or more are counted (a zset entry each)
    local stories = ekey(home, "stories")
    if redis.call("ZINCRBY", stories, 1, story_id) == "1" then
      -- the story's first joiner in this epoch counts its founder too, unless an older
      -- epoch already counted it (a story that spans two epochs is summed over both)
      local counted = false
      for i = 3, #epochs do
        if redis.call("ZSCORE", ekey(epochs[i], "stories"), story_id) then counted = true break end
      end
      if not counted then redis.call("ZINCRBY", stories, 1, story_id) end
    end
    expire(stories)
  end
  local story = story_json(story_id, related)
  sid = redis.call("XADD", stream, "*", "article", head .. dedup .. ',"story":' .. story .. "}")
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
local rec = sig .. struct.pack("<I4c1I4I8I4c8I2", shingles, kind, now, ms, seq, text_key, math.min(nsents, 65535))
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
