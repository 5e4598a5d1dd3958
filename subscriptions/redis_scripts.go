package subscriptions

import "github.com/redis/go-redis/v9"

// Lua scripts: each write, its version bump and its announcement happen in one script,
// so they are atomic. Account-scoped keys are derived inside the script from the key
// prefix passed in ARGV, which ends with HashTag: every key a script touches, declared or
// derived, is in the same Redis Cluster slot.
//
// Return codes: the new version (> 0), or scriptConflict / scriptLimit / scriptNotFound /
// scriptStale.
const (
	scriptConflict = -1
	scriptLimit    = -2
	scriptNotFound = -3
	scriptStale    = -4 // compare-and-set: the stored version is not the expected one
)

// The version is bumped and announced before the subscription keys are touched: if
// XADD failed (it cannot, while versions only grow), nothing else would change, and
// the orphan version bump only makes watchers reload.
const luaAnnounce = `
local function announce(versionKey, streamKey, maxlen, id, op)
  local v = redis.call('INCR', versionKey)
  redis.call('XADD', streamKey, 'MAXLEN', '~', maxlen, v .. '-0', 'v', v, 'id', id, 'op', op)
  return v
end
`

// KEYS: sub, all, version, changes. ARGV: id, data, max, maxlen, account, name, prefix.
var createScript = redis.NewScript(luaAnnounce + `
local id, data, max, maxlen, account, name, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local accountKey, namesKey = prefix .. 'account:' .. account, prefix .. 'names:' .. account
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if name ~= '' and redis.call('HEXISTS', namesKey, name) == 1 then return -1 end
if max > 0 and redis.call('ZCARD', accountKey) >= max then return -2 end
local v = announce(KEYS[3], KEYS[4], maxlen, id, 'create')
redis.call('HSET', KEYS[1], 'data', data, 'v', v, 'account', account, 'name', name)
redis.call('ZADD', accountKey, 0, id)
redis.call('ZADD', KEYS[2], 0, id)
if name ~= '' then redis.call('HSET', namesKey, name, id) end
return v
`)

// KEYS: sub, all, version, changes. ARGV: id, data, maxlen, account, name, prefix,
// expected version (the subscription's "v" the caller read; compare-and-set).
var updateScript = redis.NewScript(luaAnnounce + `
local id, data, maxlen, account, name, prefix, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
if redis.call('HGET', KEYS[1], 'v') ~= expected then return -4 end
local oldAccount = redis.call('HGET', KEYS[1], 'account')
local oldName = redis.call('HGET', KEYS[1], 'name')
local namesKey = prefix .. 'names:' .. account
if name ~= '' then
  local holder = redis.call('HGET', namesKey, name)
  if holder and holder ~= id then return -1 end
end
local v = announce(KEYS[3], KEYS[4], maxlen, id, 'update')
if oldName and oldName ~= '' then
  local oldNames = prefix .. 'names:' .. oldAccount
  if redis.call('HGET', oldNames, oldName) == id then redis.call('HDEL', oldNames, oldName) end
end
if oldAccount ~= account then
  redis.call('ZREM', prefix .. 'account:' .. oldAccount, id)
  redis.call('ZADD', prefix .. 'account:' .. account, 0, id)
end
redis.call('HSET', KEYS[1], 'data', data, 'v', v, 'account', account, 'name', name)
if name ~= '' then redis.call('HSET', namesKey, name, id) end
return v
`)

// KEYS: sub, all, version, changes. ARGV: id, maxlen, prefix, expected version ("0":
// any).
var deleteScript = redis.NewScript(luaAnnounce + `
local id, maxlen, prefix, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
if expected ~= '0' and redis.call('HGET', KEYS[1], 'v') ~= expected then return -4 end
local account = redis.call('HGET', KEYS[1], 'account')
local name = redis.call('HGET', KEYS[1], 'name')
local v = announce(KEYS[3], KEYS[4], maxlen, id, 'delete')
redis.call('DEL', KEYS[1])
redis.call('ZREM', prefix .. 'account:' .. account, id)
redis.call('ZREM', KEYS[2], id)
if name and name ~= '' then
  local namesKey = prefix .. 'names:' .. account
  if redis.call('HGET', namesKey, name) == id then redis.call('HDEL', namesKey, name) end
end
return v
`)
