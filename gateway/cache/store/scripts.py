"""Lua run atomically inside one partition; every key shares the partition's hash tag.

KEYS: 1 entry, 2 vectors (hash), 3 lru (zset: key -> last use, ms), 4 log (stream); PUT also takes
the purge indexes (sets of partitions: 5 the tenant's, 6 the route's), so a store is one command.
"""

PUT = """
local key, entry, vec = ARGV[1], ARGV[2], ARGV[3]
local ttl, cap, now, loglen, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8]
local partition = ARGV[9]
redis.call('SET', KEYS[1], entry, 'EX', ttl)
if vec ~= '' then
  redis.call('HSET', KEYS[2], key, vec)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', loglen, '*', 'op', 'add', 'k', key)
end
redis.call('ZADD', KEYS[3], now, key)
local function drop(victim)
  redis.call('DEL', prefix .. victim)
  if redis.call('HDEL', KEYS[2], victim) == 1 then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', loglen, '*', 'op', 'del', 'k', victim)
  end
end
local evicted = 0
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - ttl * 1000, 'LIMIT', 0, 64)
for _, victim in ipairs(stale) do
  redis.call('ZREM', KEYS[3], victim)
  drop(victim)
end
local excess = redis.call('ZCARD', KEYS[3]) - cap
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[3], excess)
  for i = 1, #popped, 2 do
    drop(popped[i])
    evicted = evicted + 1
  end
end
for i = 5, 6 do redis.call('SADD', KEYS[i], partition) end
for i = 2, 6 do redis.call('EXPIRE', KEYS[i], ttl * 2) end
return evicted
"""

PURGE = """
local prefix = ARGV[1]  -- KEYS[1] is the entry key prefix
local keys = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, key in ipairs(keys) do redis.call('DEL', prefix .. key) end
redis.call('DEL', KEYS[2], KEYS[3])
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'op', 'reset', 'k', '')
end
return #keys
"""

SYNC = """
-- KEYS: 1 log (stream), 2 vectors (hash). ARGV: 1 the cursor (exclusive), 2 most log entries, 3 most vectors.
-- Returns the log's first entry, the entries after the cursor, and the vectors of their additions
-- (none when there are more than ARGV[3]: the caller reads a burst on a connection of its own).
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local rows = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local added = {}
for _, row in ipairs(rows) do
  if row[2][2] == 'add' then added[#added + 1] = row[2][4] end
end
local vectors = {}
if #added > 0 and #added <= tonumber(ARGV[3]) then vectors = redis.call('HMGET', KEYS[2], unpack(added)) end
return {first, rows, vectors}
"""
