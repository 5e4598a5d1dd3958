package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/subscriptions"
)

// Outcomes of IdempotencyStore.Begin besides a fresh claim.
var (
	// ErrIdempotencyInFlight: a request with that key is still being served.
	ErrIdempotencyInFlight = errors.New("api: a request with this idempotency key is in progress")
	// ErrIdempotencyMismatch: the key was used for a different request (path or body).
	ErrIdempotencyMismatch = errors.New("api: idempotency key reused for a different request")
)

// Defaults of RedisIdempotency.
const (
	// DefaultIdempotencyTTL is how long a completed response is replayed.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultIdempotencyPendingTTL bounds how long a claimed key stays in flight if its
	// process dies mid-request: longer than any request may take (the server's write
	// timeout is 30 s), short enough that the client can retry soon after.
	DefaultIdempotencyPendingTTL = 2 * time.Minute
)

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body"`
}

// IdempotencyStore keeps the outcome of requests sent with an Idempotency-Key. key is
// already scoped (principal and route); fp fingerprints the request (path and body).
// Implementations are safe for concurrent use.
type IdempotencyStore interface {
	// Begin claims key for the request fp. It returns nil, nil when the claim is new (the
	// caller serves the request, then Finish or Abandon), the stored response when the key
	// completed before with the same fp, ErrIdempotencyInFlight, or ErrIdempotencyMismatch.
	Begin(ctx context.Context, key, fp string) (*StoredResponse, error)
	// Finish stores the response of a claimed key for replay.
	Finish(ctx context.Context, key, fp string, resp StoredResponse) error
	// Abandon releases a claimed key without a response, so a retry runs again.
	Abandon(ctx context.Context, key, fp string) error
}

// RedisIdempotency is the IdempotencyStore of production: one hash per key, "P idem:<hash>",
// with fields fp, state (pending or done) and resp (the response as JSON, sealed with the
// subscription store's key ring when one is configured: it can hold a secret). A claim
// expires after PendingTTL, a completed response after TTL.
type RedisIdempotency struct {
	c          redis.UniversalClient
	prefix     string
	sealer     *subscriptions.Sealer
	ttl        time.Duration
	pendingTTL time.Duration
}

var _ IdempotencyStore = (*RedisIdempotency)(nil)

// RedisIdempotencyConfig configures a RedisIdempotency.
type RedisIdempotencyConfig struct {
	Prefix     string                // key prefix (redis.key_prefix)
	Sealer     *subscriptions.Sealer // nil: responses stored in plain text
	TTL        time.Duration         // default DefaultIdempotencyTTL
	PendingTTL time.Duration         // default DefaultIdempotencyPendingTTL
}

// NewRedisIdempotency returns a store on c (which the caller owns).
func NewRedisIdempotency(c redis.UniversalClient, cfg RedisIdempotencyConfig) *RedisIdempotency {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultIdempotencyTTL
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = DefaultIdempotencyPendingTTL
	}
	return &RedisIdempotency{c: c, prefix: cfg.Prefix + "idem:", sealer: cfg.Sealer, ttl: cfg.TTL, pendingTTL: cfg.PendingTTL}
}

// KEYS: the key. ARGV: fp, pending TTL (ms).
var idemBegin = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
local cur = redis.call('HMGET', KEYS[1], 'fp', 'state', 'resp')
if cur[1] ~= ARGV[1] then return {'mismatch'} end
if cur[2] ~= 'done' then return {'pending'} end
return {'done', cur[3]}
`)

// KEYS: the key. ARGV: fp, response, TTL (ms). Only the pending claim of fp completes.
var idemFinish = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'resp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// KEYS: the key. ARGV: fp.
var idemAbandon = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'fp') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'pending' then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func storeDown(op string, err error) error {
	return fmt.Errorf("%w: redis idempotency %s: %w", subscriptions.ErrUnavailable, op, err)
}

// Begin implements IdempotencyStore.
func (s *RedisIdempotency) Begin(ctx context.Context, key, fp string) (*StoredResponse, error) {
	res, err := idemBegin.Run(ctx, s.c, []string{s.prefix + key}, fp, s.pendingTTL.Milliseconds()).StringSlice()
	if err != nil {
		return nil, storeDown("begin", err)
	}
	switch res[0] {
	case "new":
		return nil, nil
	case "mismatch":
		return nil, ErrIdempotencyMismatch
	case "pending":
		return nil, ErrIdempotencyInFlight
	}
	raw, err := s.sealer.Open(key, res[1])
	if err != nil {
		return nil, err
	}
	var resp StoredResponse
	if err := json.Unmarshal([]byte(raw), &resp); err != nil {
		return nil, fmt.Errorf("api: corrupt stored idempotent response: %w", err)
	}
	return &resp, nil
}

// Finish implements IdempotencyStore.
func (s *RedisIdempotency) Finish(ctx context.Context, key, fp string, resp StoredResponse) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	if err := idemFinish.Run(ctx, s.c, []string{s.prefix + key}, fp, s.sealer.Seal(key, string(b)), s.ttl.Milliseconds()).Err(); err != nil {
		return storeDown("finish", err)
	}
	return nil
}

// Abandon implements IdempotencyStore.
func (s *RedisIdempotency) Abandon(ctx context.Context, key, fp string) error {
	if err := idemAbandon.Run(ctx, s.c, []string{s.prefix + key}, fp).Err(); err != nil {
		return storeDown("abandon", err)
	}
	return nil
}
