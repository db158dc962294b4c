/**
 * Lua scripts of the routing state. They hold no routing rules: they read and write the
 * shared values atomically, and @cpa/routing decides in TypeScript.
 */

/**
 * One call per pick. KEYS: cursors (nc), weighted states (nw), bindings (nb), then the five
 * state keys (states, versions, epoch, changed, floor). ARGV: nc, nw, nb,
 * incrementFirstCursor, bindingTtlMs, cursorWrap, cursorTtlMs, knownEpoch.
 *
 * Bindings found get their TTL refreshed (sliding). The first cursor is incremented
 * (INCR: concurrent picks on any replica get distinct slots) unless a binding exists, in
 * which case the session most likely reuses its credential and the cursor stays put.
 * Credential states travel as a change log: only states written since the caller's epoch
 * (all of them when the caller is new or fell behind the trimmed log), so the cost of a
 * pick does not grow with the number of credentials.
 * Returns {bindings, incremented, cursors (values before the pick), weighted, epoch, full,
 * ids, versions, states}.
 */
export const PICK_READ = `
local nc, nw, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local incr = ARGV[4] == '1'
local bindTtl, wrap, cursorTtl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local known = tonumber(ARGV[8])
local bindings, bound = {}, false
for j = 1, nb do
  local k = KEYS[nc + nw + j]
  local v = redis.call('GET', k)
  if v then
    bound = true
    if bindTtl > 0 then redis.call('PEXPIRE', k, bindTtl) end
  end
  bindings[j] = v
end
local incremented = 0
local cursors = {}
for j = 1, nc do
  if j == 1 and incr and not bound then
    local n = redis.call('INCR', KEYS[j])
    if n > wrap then redis.call('SET', KEYS[j], 1) n = 1 end
    if cursorTtl > 0 then redis.call('PEXPIRE', KEYS[j], cursorTtl) end
    cursors[j] = n - 1
    incremented = 1
  else
    cursors[j] = tonumber(redis.call('GET', KEYS[j]) or '0')
  end
end
local weighted = {}
for j = 1, nw do weighted[j] = redis.call('GET', KEYS[nc + j]) end
local base = nc + nw + nb
local statesKey, versionsKey, epochKey, changedKey, floorKey = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4], KEYS[base + 5]
local epoch = tonumber(redis.call('GET', epochKey) or '0')
local full = 0
local ids = {}
if known ~= epoch then
  local floor = tonumber(redis.call('GET', floorKey) or '0')
  if known < 0 or known < floor then
    full = 1
    ids = redis.call('HKEYS', versionsKey)
  else
    ids = redis.call('ZRANGEBYSCORE', changedKey, '(' .. known, '+inf')
  end
end
local versions, states = {}, {}
-- In slices: unpack() of thousands of ids would overflow the Lua stack.
for from = 1, #ids, 1000 do
  local to = math.min(from + 999, #ids)
  local v = redis.call('HMGET', versionsKey, unpack(ids, from, to))
  local s = redis.call('HMGET', statesKey, unpack(ids, from, to))
  for j = 1, #v do
    versions[from + j - 1] = v[j]
    states[from + j - 1] = s[j]
  end
end
return {bindings, incremented, cursors, weighted, epoch, full, ids, versions, states}
`;

/** Advances one cursor. KEYS[1]; ARGV: wrap, ttlMs. Returns the value before the pick. */
export const INCR_CURSOR = `
local n = redis.call('INCR', KEYS[1])
if n > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], 1) n = 1 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
return n - 1
`;

/** Compare-and-set of a weighted state. KEYS[1]; ARGV: expected ('' = absent), next, ttlMs. */
export const CAS_VALUE = `
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`;

/**
 * Binds a session. KEYS[1] primary binding, KEYS[2] credential's binding index, KEYS[3..]
 * further binding keys (first-turn fallback). ARGV: credentialId, ttlMs, mode, expected, now.
 * mode 'nx': only when the primary is unbound (SET NX semantics: concurrent first requests
 * of a session agree on the first writer); 'replace': only while the primary still points at
 * `expected` (a rebind does not undo another replica's rebind); 'touch': unconditionally.
 * Returns the credential the primary binding points at afterwards.
 */
export const BIND = `
local cur = redis.call('GET', KEYS[1])
local mode = ARGV[3]
if cur and cur ~= ARGV[1] then
  if mode == 'nx' or (mode == 'replace' and cur ~= ARGV[4]) then return cur end
end
local ttl = tonumber(ARGV[2])
local expiry = tonumber(ARGV[5]) + ttl
for j = 1, #KEYS do
  if j ~= 2 then
    redis.call('SET', KEYS[j], ARGV[1], 'PX', ttl)
    redis.call('ZADD', KEYS[2], expiry, KEYS[j])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
return ARGV[1]
`;

/**
 * Records a new credential state with optimistic concurrency, and compare-and-deletes
 * bindings. KEYS: the five state keys (states, versions, epoch, changed, floor), the
 * credential's binding index, then bindings to remove while they still point at the
 * credential. ARGV: credentialId, expectedVersion, nextJson ('' = unchanged), maxChangeLog.
 * Returns {1, version, removed} or, on a version conflict, {0, version, currentJson} so the
 * caller can recompute and try again.
 */
export const RECORD = `
local id = ARGV[1]
local v = tonumber(redis.call('HGET', KEYS[2], id) or '0')
if tostring(v) ~= ARGV[2] then return {0, v, redis.call('HGET', KEYS[1], id) or false} end
if ARGV[3] ~= '' then
  v = v + 1
  redis.call('HSET', KEYS[1], id, ARGV[3])
  redis.call('HSET', KEYS[2], id, v)
  local epoch = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[4], epoch, id)
  local size = redis.call('ZCARD', KEYS[4])
  local max = tonumber(ARGV[4])
  if size > max then
    redis.call('ZREMRANGEBYRANK', KEYS[4], 0, size - max - 1)
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    redis.call('SET', KEYS[5], tonumber(oldest[2]) - 1)
  end
end
local removed = 0
for j = 7, #KEYS do
  if redis.call('GET', KEYS[j]) == id then
    redis.call('DEL', KEYS[j])
    removed = removed + 1
  end
  redis.call('ZREM', KEYS[6], KEYS[j])
end
return {1, v, removed}
`;

/**
 * Removes every binding of a credential that still points at it (Go's InvalidateAuth),
 * via its binding index. KEYS[1] index; ARGV: credentialId. Returns the number removed.
 */
export const INVALIDATE_BINDINGS = `
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = 0
for _, k in ipairs(keys) do
  if redis.call('GET', k) == ARGV[1] then
    redis.call('DEL', k)
    removed = removed + 1
  end
end
redis.call('DEL', KEYS[1])
return removed
`;
