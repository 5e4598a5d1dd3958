package subscriptions

import (
	"sort"
	"strings"

	"github.com/claimable/eventrouter/events"
)

// shardCount splits the snapshot's maps so that applying one change copies only one
// shard (about n/256 entries) instead of the whole world.
const shardCount = 256

// snapshot is an immutable view of every subscription. Readers load it through an
// atomic pointer; writers build a new one (copy-on-write) and swap it in.
type snapshot struct {
	catalogue []string // event names to precompute match lists for
	version   int64
	count     int
	byID      [shardCount]map[string]*entry
	accounts  [shardCount]map[string]*accountSubs
}

// accountSubs holds one account's ENABLED, matchable subscriptions, sorted by id, and
// for each known event name (the catalogue and the exact names the account uses) the
// precomputed list of those selecting it, so Match rarely looks at patterns.
type accountSubs struct {
	entries []*entry
	byEvent map[string][]cand
}

// cand is one precomputed match; filter is nil when the subscription has none.
type cand struct {
	sub    *Subscription
	filter *Filter
}

func newAccountSubs(entries []*entry, catalogue []string) *accountSubs {
	a := &accountSubs{entries: entries, byEvent: make(map[string][]cand)}
	add := func(name string) {
		if _, done := a.byEvent[name]; done {
			return
		}
		var list []cand
		for _, en := range entries {
			for _, p := range en.sub.Events {
				if matchPattern(p, name) {
					c := cand{sub: en.sub}
					if en.filter.active() {
						c.filter = en.filter
					}
					list = append(list, c)
					break
				}
			}
		}
		a.byEvent[name] = list
	}
	for _, name := range catalogue {
		add(name)
	}
	for _, en := range entries {
		for _, p := range en.sub.Events {
			if p != "*" && !strings.HasSuffix(p, ".*") {
				add(p)
			}
		}
	}
	return a
}

// match appends the subscriptions selecting e; it does not allocate when dst has room.
func (a *accountSubs) match(e *events.Event, dst []*Subscription) []*Subscription {
	var d dataScope // decodes the object once, only if a data predicate asks for it
	if list, ok := a.byEvent[e.EventName]; ok {
		for i := range list {
			if list[i].filter == nil || list[i].filter.match(e, &d) {
				dst = append(dst, list[i].sub)
			}
		}
		return dst
	}
	for _, en := range a.entries { // a name outside the catalogue: only wildcards can match
		if en.matches(e, &d) {
			dst = append(dst, en.sub)
		}
	}
	return dst
}

// entry is one subscription with its compiled filter.
type entry struct {
	sub    *Subscription
	filter *Filter
	broken bool // the stored filter does not compile: never matches (fail closed)
}

func newEntry(sub *Subscription) *entry {
	f, err := CompileFilter(sub.Filter)
	return &entry{sub: sub, filter: f, broken: err != nil}
}

// matchable: every subscription whose filter compiles, enabled or not. A disabled
// subscription still receives deliveries; the sender holds them in the DLQ (reason
// subscription_disabled) until it is re-enabled, so disabling never loses an event.
func (en *entry) matchable() bool { return !en.broken }

// matches reports whether the entry selects e. It does not allocate unless its filter
// is a data predicate.
func (en *entry) matches(e *events.Event, d *dataScope) bool {
	for _, p := range en.sub.Events {
		if matchPattern(p, e.EventName) {
			return en.filter.match(e, d)
		}
	}
	return false
}

// shardOf is FNV-1a of s, reduced to a shard; it does not allocate.
func shardOf(s string) int {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// buildSnapshot indexes subs from scratch. It returns the entries whose filter does
// not compile, for the caller to report.
func buildSnapshot(version int64, subs []*Subscription, catalogue []string) (*snapshot, []*entry) {
	if len(catalogue) == 0 {
		catalogue = exactNames(subs)
	}
	s := &snapshot{version: version, count: len(subs), catalogue: catalogue}
	for i := range s.byID {
		s.byID[i] = make(map[string]*entry, len(subs)/shardCount+1)
		s.accounts[i] = make(map[string]*accountSubs)
	}
	var broken []*entry
	for _, sub := range subs {
		en := newEntry(sub)
		if en.broken {
			broken = append(broken, en)
		}
		s.byID[shardOf(sub.ID)][sub.ID] = en
		if !en.matchable() {
			continue
		}
		m := s.accounts[shardOf(sub.AccountID)]
		a := m[sub.AccountID]
		if a == nil {
			a = &accountSubs{}
			m[sub.AccountID] = a
		}
		a.entries = append(a.entries, en)
	}
	for _, m := range s.accounts {
		for id, a := range m {
			sort.Slice(a.entries, func(i, j int) bool { return a.entries[i].sub.ID < a.entries[j].sub.ID })
			m[id] = newAccountSubs(a.entries, catalogue)
		}
	}
	return s, broken
}

// with returns a copy of s where id is replaced by sub (nil: removed), at version.
// Only the touched shards and accounts are copied.
func (s *snapshot) with(id string, sub *Subscription, version int64) (*snapshot, *entry) {
	n := *s
	n.version = version
	sh := shardOf(id)
	old := s.byID[sh][id]
	ids := make(map[string]*entry, len(s.byID[sh])+1)
	for k, v := range s.byID[sh] {
		ids[k] = v
	}
	var en *entry
	if sub != nil {
		en = newEntry(sub)
		ids[id] = en
	} else {
		delete(ids, id)
	}
	n.byID[sh] = ids
	n.count += len(ids) - len(s.byID[sh])
	if old != nil {
		n.setAccount(old.sub.AccountID, id, nil)
	}
	if en != nil {
		n.setAccount(sub.AccountID, id, en)
	}
	return &n, en
}

// setAccount replaces (or removes, en nil or not matchable) id in account's list;
// n's account shard is copied first unless it was already copied by this change.
func (n *snapshot) setAccount(account, id string, en *entry) {
	sh := shardOf(account)
	m := make(map[string]*accountSubs, len(n.accounts[sh])+1)
	for k, v := range n.accounts[sh] {
		m[k] = v
	}
	var list []*entry
	if a := m[account]; a != nil {
		list = make([]*entry, 0, len(a.entries)+1)
		for _, e := range a.entries {
			if e.sub.ID != id {
				list = append(list, e)
			}
		}
	}
	if en != nil && en.matchable() {
		i := sort.Search(len(list), func(i int) bool { return list[i].sub.ID > id })
		list = append(list, nil)
		copy(list[i+1:], list[i:])
		list[i] = en
	}
	if len(list) == 0 {
		delete(m, account)
	} else {
		m[account] = newAccountSubs(list, n.catalogue)
	}
	n.accounts[sh] = m
}

// exactNames returns the exact event names subs use: the catalogue of an index built
// without one.
func exactNames(subs []*Subscription) []string {
	seen := map[string]bool{}
	var out []string
	for _, sub := range subs {
		for _, p := range sub.Events {
			if p != "*" && !strings.HasSuffix(p, ".*") && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}
