package api

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/claimable/eventrouter/subscriptions"
)

// fakeStore is a small in-memory subscriptions.Store for the API tests; failWith makes
// every call fail (e.g. with ErrUnavailable, as when Redis is down).
type fakeStore struct {
	mu       sync.Mutex
	subs     map[string]*subscriptions.Subscription
	version  int64
	failWith error
}

func newFakeStore() *fakeStore { return &fakeStore{subs: map[string]*subscriptions.Subscription{}} }

func copySub(s *subscriptions.Subscription) *subscriptions.Subscription {
	c := *s
	c.Events = slices.Clone(s.Events)
	c.Secrets = slices.Clone(s.Secrets)
	c.Headers = maps.Clone(s.Headers)
	return &c
}

func (f *fakeStore) Create(_ context.Context, sub *subscriptions.Subscription, max int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	n := 0
	for _, s := range f.subs {
		if s.AccountID == sub.AccountID {
			n++
			if sub.Name != "" && s.Name == sub.Name {
				return subscriptions.ErrConflict
			}
		}
	}
	if max > 0 && n >= max {
		return subscriptions.ErrAccountLimit
	}
	f.version++
	sub.Version = f.version
	f.subs[sub.ID] = copySub(sub)
	return nil
}

func (f *fakeStore) Get(_ context.Context, id string) (*subscriptions.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	s, ok := f.subs[id]
	if !ok {
		return nil, subscriptions.ErrNotFound
	}
	return copySub(s), nil
}

func (f *fakeStore) Update(_ context.Context, sub *subscriptions.Subscription) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	old, ok := f.subs[sub.ID]
	if !ok {
		return subscriptions.ErrNotFound
	}
	if old.Version != sub.Version {
		return subscriptions.ErrVersionMismatch
	}
	f.version++
	sub.Version = f.version
	f.subs[sub.ID] = copySub(sub)
	return nil
}

func (f *fakeStore) Delete(_ context.Context, id string, version int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	old, ok := f.subs[id]
	if !ok {
		return subscriptions.ErrNotFound
	}
	if version != subscriptions.AnyVersion && old.Version != version {
		return subscriptions.ErrVersionMismatch
	}
	delete(f.subs, id)
	f.version++
	return nil
}

func (f *fakeStore) List(_ context.Context, o subscriptions.ListOptions) ([]*subscriptions.Subscription, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, "", f.failWith
	}
	limit := o.Limit
	if limit == 0 {
		limit = 100
	}
	var ids []string
	for id, s := range f.subs {
		if (o.AccountID == "" || s.AccountID == o.AccountID) && id > o.After {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	out := make([]*subscriptions.Subscription, len(ids))
	for i, id := range ids {
		out[i] = copySub(f.subs[id])
	}
	return out, next, nil
}

func (f *fakeStore) Load(context.Context) (int64, []*subscriptions.Subscription, error) {
	return 0, nil, errors.New("fakeStore: Load not supported")
}

func (f *fakeStore) Version(context.Context) (int64, error) { return f.version, nil }

func (f *fakeStore) Watch(context.Context, int64, func(subscriptions.Change)) error {
	return errors.New("fakeStore: Watch not supported")
}

var _ subscriptions.Store = (*fakeStore)(nil)
