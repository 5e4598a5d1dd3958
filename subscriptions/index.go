package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
)

// IndexOptions configures an Index.
type IndexOptions struct {
	// ResyncInterval is the backstop version check; default 15s.
	ResyncInterval time.Duration
	// Catalogue is the event catalogue: Match precomputes, per account, the subscriptions
	// selecting each of these names. Names outside it still match (more slowly).
	Catalogue []string
	// MaxBackoff bounds the wait between attempts while the store is unreachable;
	// default 5s.
	MaxBackoff time.Duration
}

// Index is the live in-memory copy of every subscription that the router and the sender
// match against. Reads (Match, Get) use an immutable snapshot behind an atomic pointer:
// no lock, no Redis call. Run keeps it fresh. Safe for concurrent use; the returned
// *Subscription values are shared and must not be modified.
type Index struct {
	store   Store
	opts    IndexOptions
	log     *zap.Logger
	metrics *indexMetrics

	snap     atomic.Pointer[snapshot]
	ready    atomic.Bool
	stale    atomic.Bool
	lastSync atomic.Int64 // unix nanoseconds
	mu       sync.Mutex   // serialises snapshot writers
}

// errResync: the version check found the index behind (or ahead of) the store.
var errResync = errors.New("subscriptions: index behind the store")

// NewIndex returns an index over store; it is empty and not Ready until Run has loaded
// it. Metrics are registered on reg (nil: not registered).
func NewIndex(store Store, opts IndexOptions, log *zap.Logger, reg prometheus.Registerer) *Index {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = 15 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	ix := &Index{store: store, opts: opts, log: log}
	ix.metrics = newIndexMetrics(reg, ix.LastSync)
	s, _ := buildSnapshot(0, nil, opts.Catalogue)
	ix.snap.Store(s)
	return ix
}

// NewStaticIndex returns a Ready index holding exactly subs (for tests and dev); its Run
// only waits for the context.
func NewStaticIndex(subs []*Subscription) *Index {
	ix := NewIndex(nil, IndexOptions{}, zap.NewNop(), nil)
	var v int64
	for _, s := range subs {
		v = max(v, s.Version)
	}
	s, _ := buildSnapshot(v, subs, nil)
	ix.snap.Store(s)
	ix.ready.Store(true)
	ix.lastSync.Store(time.Now().UnixNano())
	return ix
}

// Match appends to dst the subscriptions of e.AccountID, enabled or not (a disabled
// one's deliveries are held, see entry.matchable), whose event patterns
// select e.EventName and whose filter accepts e, ordered by id. It does not allocate
// when dst has room.
func (ix *Index) Match(e *events.Event, dst []*Subscription) []*Subscription {
	a := ix.snap.Load().accounts[shardOf(e.AccountID)][e.AccountID]
	if a == nil {
		return dst
	}
	return a.match(e, dst)
}

// Get returns the subscription with that id, enabled or not.
func (ix *Index) Get(id string) (*Subscription, bool) {
	en := ix.snap.Load().byID[shardOf(id)][id]
	if en == nil {
		return nil, false
	}
	return en.sub, true
}

// Ready reports whether the first full load is done.
func (ix *Index) Ready() bool { return ix.ready.Load() }

// Stale reports whether the store is unreachable and the index serves its last snapshot.
func (ix *Index) Stale() bool { return ix.stale.Load() }

// LastSync is when the index last heard from the store; zero before the first load.
func (ix *Index) LastSync() time.Time {
	n := ix.lastSync.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Version is the store version the index reflects.
func (ix *Index) Version() int64 { return ix.snap.Load().version }

// Len is the number of subscriptions held, enabled or not.
func (ix *Index) Len() int { return ix.snap.Load().count }

// Run keeps the index fresh until ctx ends, then returns nil. It loads fully, then
// applies announced changes in version order from that version on (the store's change
// feed is durable, so nothing committed after the load is missed); it reloads fully
// on a gap, after the store was unreachable, or when the periodic version check finds
// the index behind. While the store is unreachable it keeps serving the last snapshot,
// reports Stale, and retries with backoff.
func (ix *Index) Run(ctx context.Context) error {
	if ix.store == nil {
		<-ctx.Done()
		return nil
	}
	cause := reloadInitial
	backoff := 100 * time.Millisecond
	for {
		loaded, err := ix.cycle(ctx, cause)
		if loaded {
			backoff = 100 * time.Millisecond
		}
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrGap):
			cause = reloadGap
			ix.log.Info("subscriptions index reloading after a change feed gap", zap.Error(err))
			continue
		case errors.Is(err, errResync):
			cause = reloadResync
			ix.log.Warn("subscriptions index behind the store, reloading", zap.Error(err))
			continue
		}
		if ix.Ready() {
			cause = reloadReconnect
		}
		ix.markStale(err)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, ix.opts.MaxBackoff)
	}
}

// cycle loads fully and then follows the change feed until an error. loaded reports
// whether the load succeeded.
func (ix *Index) cycle(ctx context.Context, cause string) (loaded bool, err error) {
	v, subs, err := ix.store.Load(ctx)
	if err != nil {
		return false, err
	}
	ix.replace(v, subs)
	ix.metrics.reloads.WithLabelValues(cause).Inc()
	ix.markFresh()

	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go ix.resync(wctx, cancel)
	err = ix.store.Watch(wctx, v, func(c Change) { ix.apply(wctx, cancel, c) })
	if c := context.Cause(wctx); c != nil && ctx.Err() == nil {
		return true, c
	}
	return true, err
}

// apply folds one announced change into a new snapshot.
func (ix *Index) apply(ctx context.Context, cancel context.CancelCauseFunc, c Change) {
	var sub *Subscription
	if !c.Deleted {
		s, err := ix.store.Get(ctx, c.ID)
		switch {
		case errors.Is(err, ErrNotFound): // deleted since: a later change says so too
		case err != nil:
			cancel(err)
			return
		default:
			sub = s
		}
	}
	ix.mu.Lock()
	next, en := ix.snap.Load().with(c.ID, sub, c.Version)
	ix.snap.Store(next)
	ix.mu.Unlock()
	if en != nil && en.broken {
		ix.reportBroken(en)
	}
	ix.metrics.changes.Inc()
	ix.metrics.version.Set(float64(c.Version))
	ix.metrics.subscriptions.Set(float64(next.count))
	ix.lastSync.Store(time.Now().UnixNano())
}

func (ix *Index) replace(v int64, subs []*Subscription) {
	s, broken := buildSnapshot(v, subs, ix.opts.Catalogue)
	ix.mu.Lock()
	ix.snap.Store(s)
	ix.mu.Unlock()
	for _, en := range broken {
		ix.reportBroken(en)
	}
	ix.ready.Store(true)
	ix.metrics.version.Set(float64(v))
	ix.metrics.subscriptions.Set(float64(s.count))
	ix.lastSync.Store(time.Now().UnixNano())
}

func (ix *Index) reportBroken(en *entry) {
	ix.metrics.invalid.Inc()
	ix.log.Error("subscription filter does not compile; it will not match until fixed",
		zap.String("subscription_id", en.sub.ID), zap.String("account_id", en.sub.AccountID))
}

// resync is the backstop: every ResyncInterval it compares the store's version with
// the index's. A version seen at one check but still not applied at the next one means
// announcements were lost: it cancels the cycle with errResync.
func (ix *Index) resync(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(ix.opts.ResyncInterval)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := ix.store.Version(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// Report now: a blocked watch read may take a while to fail by itself.
				ix.markStale(err)
				cancel(err)
			}
			return
		}
		ix.lastSync.Store(time.Now().UnixNano())
		have := ix.Version()
		switch {
		case v < have:
			cancel(fmt.Errorf("%w: store at version %d, index at %d (store reset?)", errResync, v, have))
			return
		case seen > have:
			cancel(fmt.Errorf("%w: store reached version %d one interval ago, index still at %d", errResync, seen, have))
			return
		}
		seen = v
	}
}

func (ix *Index) markStale(err error) {
	if !ix.stale.Swap(true) {
		ix.metrics.stale.Set(1)
		ix.log.Warn("subscriptions store unreachable; index serving its last snapshot",
			zap.Error(err), zap.Int64("version", ix.Version()), zap.Bool("ready", ix.Ready()))
	}
}

func (ix *Index) markFresh() {
	if ix.stale.Swap(false) {
		ix.metrics.stale.Set(0)
		ix.log.Info("subscriptions store reachable again; index reloaded", zap.Int64("version", ix.Version()))
	}
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// OfAccount appends to dst the account's subscriptions, enabled or not, ordered by id
// (the operational forwarder picks those that want an operational event from them).
// A subscription whose stored filter does not compile is left out, as from Match.
func (ix *Index) OfAccount(accountID string, dst []*Subscription) []*Subscription {
	a := ix.snap.Load().accounts[shardOf(accountID)][accountID]
	if a == nil {
		return dst
	}
	for _, en := range a.entries {
		dst = append(dst, en.sub)
	}
	return dst
}
