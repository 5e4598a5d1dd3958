package subscriptions

import (
	"context"
	"errors"
)

// Errors callers branch on.
var (
	// ErrNotFound: no subscription has that id.
	ErrNotFound = errors.New("subscriptions: not found")
	// ErrConflict: a subscription with that id (or routes-file name in that account) exists.
	ErrConflict = errors.New("subscriptions: already exists")
	// ErrAccountLimit: the account already holds the configured maximum of subscriptions.
	ErrAccountLimit = errors.New("subscriptions: account subscription limit reached")
	// ErrUnavailable wraps a failure to reach the backing store (Redis down); the API
	// answers 503 for it.
	ErrUnavailable = errors.New("subscriptions: store unavailable")
	// ErrVersionMismatch: a compare-and-set write found the subscription at another
	// version than the one the caller read or named (it changed meanwhile). Nothing was
	// written. The API answers 412 when the client named the version (If-Match).
	ErrVersionMismatch = errors.New("subscriptions: subscription changed since it was read")
)

// AnyVersion, as the expected version of a write, skips the compare-and-set.
const AnyVersion int64 = 0

// ListOptions selects a page of subscriptions ordered by id.
type ListOptions struct {
	AccountID string // empty: every account
	After     string // cursor: return ids strictly greater than this
	Limit     int    // 1..1000; 0 means 100
}

// Change announces one committed write: the store's version after it, and the
// subscription it touched.
type Change struct {
	Version int64
	ID      string
	Deleted bool
}

// Store persists subscriptions. Every write bumps a global version atomically with the
// change and announces it. Implementations are safe for concurrent use.
type Store interface {
	// Create stores sub (ID, CreatedAt, UpdatedAt already set by the caller) and sets
	// sub.Version. It refuses with ErrAccountLimit when the account already has
	// maxPerAccount subscriptions (0: no limit), ErrConflict on a duplicate id.
	Create(ctx context.Context, sub *Subscription, maxPerAccount int) error
	// Get returns the subscription or ErrNotFound.
	Get(ctx context.Context, id string) (*Subscription, error)
	// Update replaces the stored subscription with sub (same ID) and sets sub.Version,
	// only if the stored subscription is still at sub.Version, the version the caller
	// read (compare-and-set, checked atomically with the write); otherwise it returns
	// ErrVersionMismatch and writes nothing. ErrNotFound if absent.
	Update(ctx context.Context, sub *Subscription) error
	// Delete removes it; ErrNotFound if absent. With version != AnyVersion it deletes
	// only a subscription still at that version, else ErrVersionMismatch.
	Delete(ctx context.Context, id string, version int64) error
	// List returns one page ordered by id and the cursor of the next page ("" at the end).
	// A Limit outside 0..MaxListLimit is refused with ErrBadLimit.
	List(ctx context.Context, opts ListOptions) (subs []*Subscription, next string, err error)
	// Load returns every subscription, ordered by id, and the version they reflect: every
	// change up to that version is included. Changes committed while Load runs may be
	// partly visible too; replaying them (Watch from the returned version) is harmless,
	// since applying a change re-reads the subscription.
	Load(ctx context.Context) (version int64, subs []*Subscription, err error)
	// Version returns the current global version.
	Version(ctx context.Context) (int64, error)
	// Watch delivers changes with Version > after, in version order, until ctx ends. A gap
	// (announcements lost, stream trimmed, reconnect) is reported as an error wrapping
	// ErrGap; the watcher then reloads fully and watches again from the new version.
	// fn runs on Watch's goroutine, one change at a time. Watch returns ctx.Err() when
	// ctx ends, and an error wrapping ErrUnavailable when the store cannot be reached.
	Watch(ctx context.Context, after int64, fn func(Change)) error
}

// ErrGap: the store cannot prove no change was missed since the given version.
var ErrGap = errors.New("subscriptions: change feed gap, reload required")

// DefaultListLimit and MaxListLimit bound ListOptions.Limit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ErrBadLimit: ListOptions.Limit is outside 0..MaxListLimit.
var ErrBadLimit = errors.New("subscriptions: list limit must be between 1 and 1000")

// limit returns the effective page size.
func (o ListOptions) limit() (int, error) {
	switch {
	case o.Limit == 0:
		return DefaultListLimit, nil
	case o.Limit < 0 || o.Limit > MaxListLimit:
		return 0, ErrBadLimit
	}
	return o.Limit, nil
}
