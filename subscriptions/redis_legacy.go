package subscriptions

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Before Redis Cluster support the store's keys had no hash tag: "<prefix>sub:<id>",
// "<prefix>version", and so on. A store with RedisOptions.MigrateLegacyKeys renames such
// keys to the current layout, in one script (atomic: a reader sees either layout
// whole), before its first operation. The script does nothing once the current layout
// has a version, or when there is nothing to migrate, so every process may run it.
// Single server or Sentinel only: the old keys are in other slots than the new ones.
//
// KEYS: old version, new version. ARGV: old prefix, new prefix (both end with ":").
// Returns the number of subscriptions moved, 0 when there was nothing to do.
var migrateLegacyScript = redis.NewScript(`
local old, new = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function mv(k)
  if redis.call('EXISTS', old .. k) == 1 then redis.call('RENAME', old .. k, new .. k) end
end
local ids = redis.call('ZRANGE', old .. 'subs', 0, -1)
local accounts = {}
for _, id in ipairs(ids) do
  local account = redis.call('HGET', old .. 'sub:' .. id, 'account')
  mv('sub:' .. id)
  if account and not accounts[account] then
    accounts[account] = true
    mv('account:' .. account)
    mv('names:' .. account)
  end
end
mv('subs')
mv('changes')
mv('version')
return #ids
`)

// migrate runs migrateLegacyScript once per store, when enabled; after it succeeded it
// costs nothing. A failure is returned (wrapping ErrUnavailable) and retried by the
// next operation, so no operation ever reads or writes the new layout while old keys
// are still waiting to be moved.
func (s *RedisStore) migrate(ctx context.Context) error {
	if !s.opts.MigrateLegacyKeys || s.migrated.Load() {
		return nil
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	if s.migrated.Load() {
		return nil
	}
	n, err := migrateLegacyScript.Run(ctx, s.c, []string{s.opts.Prefix + "version", s.versionKey()}, s.opts.Prefix, s.keyPrefix()).Int64()
	if err != nil {
		return unavailable("migrate legacy keys", err)
	}
	s.migrated.Store(true)
	if n > 0 && s.opts.OnMigrated != nil {
		s.opts.OnMigrated(n)
	}
	return nil
}
