-- Merge packed registration records into bucket hashes, atomically, inside Redis.
-- KEYS: bucket hashes. ARGV[k], for KEYS[k]: the bucket's changes as one string, each change being
-- 1 byte n, the MPxN (n ASCII bytes), then its packed record (see records.py). Many buckets a call
-- and one argument a bucket: the client's cost per call and per argument outweighs Redis's merge.
-- Idempotent and order-safe: for one effective_from the highest sequence wins; records stay sorted.
-- Returns {inserted, replaced, unchanged}.
local function num6(s, i)
  local b1, b2, b3, b4, b5, b6 = string.byte(s, i, i + 5)
  return b1 + b2 * 256 + b3 * 65536 + b4 * 16777216 + b5 * 4294967296 + b6 * 1099511627776
end
local function record_length(s, i)
  local p = i + 13
  for _ = 1, 2 do
    local n = string.byte(s, p)
    if n == 255 then p = p + 1 else p = p + 1 + n end
  end
  return p - i
end
local inserted, replaced, unchanged = 0, 0, 0
local function merge(key, field, new)
  local current = redis.call('HGET', key, field)
  if not current then
    redis.call('HSET', key, field, new)
    inserted = inserted + 1
  else
    local new_from, new_sequence = num6(new, 1), num6(new, 7)
    local out, i, outcome = {}, 1, nil
    while i <= #current do
      local length = record_length(current, i)
      local record = string.sub(current, i, i + length - 1)
      if outcome == nil then
        local from = num6(record, 1)
        if from == new_from then
          if new_sequence > num6(record, 7) then record, outcome = new, 'replaced' else outcome = 'unchanged' end
        elseif from > new_from then
          out[#out + 1], outcome = new, 'inserted'
        end
      end
      out[#out + 1] = record
      i = i + length
    end
    if outcome == nil then out[#out + 1], outcome = new, 'inserted' end
    if outcome == 'unchanged' then
      unchanged = unchanged + 1
    else
      redis.call('HSET', key, field, table.concat(out))
      if outcome == 'replaced' then replaced = replaced + 1 else inserted = inserted + 1 end
    end
  end
end
for k = 1, #KEYS do
  local changes, i = ARGV[k], 1
  while i <= #changes do
    local n = string.byte(changes, i)
    local field = string.sub(changes, i + 1, i + n)
    local length = record_length(changes, i + 1 + n)
    merge(KEYS[k], field, string.sub(changes, i + 1 + n, i + n + length))
    i = i + 1 + n + length
  end
end
return {inserted, replaced, unchanged}
