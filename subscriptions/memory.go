package subscriptions

import (
	"context"
	"sort"
	"sync"
)

// MemoryStore is a Store held in process memory, for tests and dev mode. It keeps
// every change since it was created, so Watch never reports a gap. Safe for concurrent
// use; values handed in and out are copies.
type MemoryStore struct {
	mu      sync.Mutex
	subs    map[string]*Subscription
	ids     []string // sorted
	names   map[string]string
	version int64
	log     []Change      // every change, in version order
	notify  chan struct{} // closed and replaced on every write
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store at version 0.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{subs: map[string]*Subscription{}, names: map[string]string{}, notify: make(chan struct{})}
}

func nameKey(account, name string) string { return account + "\x00" + name }

// commit records a change; the caller holds mu.
func (m *MemoryStore) commit(id string, deleted bool) int64 {
	m.version++
	m.log = append(m.log, Change{Version: m.version, ID: id, Deleted: deleted})
	close(m.notify)
	m.notify = make(chan struct{})
	return m.version
}

// Create implements Store.
func (m *MemoryStore) Create(ctx context.Context, sub *Subscription, maxPerAccount int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[sub.ID]; ok {
		return ErrConflict
	}
	if sub.Name != "" {
		if _, ok := m.names[nameKey(sub.AccountID, sub.Name)]; ok {
			return ErrConflict
		}
	}
	if maxPerAccount > 0 {
		n := 0
		for _, s := range m.subs {
			if s.AccountID == sub.AccountID {
				n++
			}
		}
		if n >= maxPerAccount {
			return ErrAccountLimit
		}
	}
	sub.Version = m.commit(sub.ID, false)
	m.subs[sub.ID] = sub.Clone()
	if sub.Name != "" {
		m.names[nameKey(sub.AccountID, sub.Name)] = sub.ID
	}
	i := sort.SearchStrings(m.ids, sub.ID)
	m.ids = append(m.ids, "")
	copy(m.ids[i+1:], m.ids[i:])
	m.ids[i] = sub.ID
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, id string) (*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok {
		return nil, ErrNotFound
	}
	return s.Clone(), nil
}

// Update implements Store.
func (m *MemoryStore) Update(ctx context.Context, sub *Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.subs[sub.ID]
	if !ok {
		return ErrNotFound
	}
	if old.Version != sub.Version {
		return ErrVersionMismatch
	}
	newKey := nameKey(sub.AccountID, sub.Name)
	if sub.Name != "" && m.names[newKey] != "" && m.names[newKey] != sub.ID {
		return ErrConflict
	}
	if old.Name != "" {
		delete(m.names, nameKey(old.AccountID, old.Name))
	}
	if sub.Name != "" {
		m.names[newKey] = sub.ID
	}
	sub.Version = m.commit(sub.ID, false)
	m.subs[sub.ID] = sub.Clone()
	return nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(ctx context.Context, id string, version int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.subs[id]
	if !ok {
		return ErrNotFound
	}
	if version != AnyVersion && old.Version != version {
		return ErrVersionMismatch
	}
	if old.Name != "" {
		delete(m.names, nameKey(old.AccountID, old.Name))
	}
	delete(m.subs, id)
	i := sort.SearchStrings(m.ids, id)
	m.ids = append(m.ids[:i], m.ids[i+1:]...)
	m.commit(id, true)
	return nil
}

// List implements Store.
func (m *MemoryStore) List(ctx context.Context, opts ListOptions) ([]*Subscription, string, error) {
	limit, err := opts.limit()
	if err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Subscription
	start := sort.Search(len(m.ids), func(i int) bool { return m.ids[i] > opts.After })
	for _, id := range m.ids[start:] {
		s := m.subs[id]
		if opts.AccountID != "" && s.AccountID != opts.AccountID {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		out = append(out, s.Clone())
	}
	return out, "", nil
}

// Load implements Store.
func (m *MemoryStore) Load(ctx context.Context) (int64, []*Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Subscription, 0, len(m.ids))
	for _, id := range m.ids {
		out = append(out, m.subs[id].Clone())
	}
	return m.version, out, nil
}

// Version implements Store.
func (m *MemoryStore) Version(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, nil
}

// Watch implements Store. It returns ctx.Err() when ctx ends; it never reports a gap.
func (m *MemoryStore) Watch(ctx context.Context, after int64, fn func(Change)) error {
	for {
		m.mu.Lock()
		// log[i].Version == i+1, so the changes after `after` start at index after.
		var pending []Change
		if after < int64(len(m.log)) && after >= 0 {
			pending = append(pending, m.log[after:]...)
		}
		wait := m.notify
		m.mu.Unlock()
		for _, c := range pending {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fn(c)
			after = c.Version
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}
