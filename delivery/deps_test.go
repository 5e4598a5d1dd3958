package delivery

import (
	"context"
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
)

type mapIndex map[string]*subscriptions.Subscription

func (m mapIndex) Get(id string) (*subscriptions.Subscription, bool) { s, ok := m[id]; return s, ok }

type mapStore map[string]*subscriptions.Subscription

func (m mapStore) Get(_ context.Context, id string) (*subscriptions.Subscription, error) {
	if s, ok := m[id]; ok {
		return s, nil
	}
	return nil, subscriptions.ErrNotFound
}

// TestLookupFallsBackToTheStore: a subscription created a moment ago, not yet in this
// process's index, is found in the store (its delivery is made, not dead-lettered as
// deleted); one in neither is unknown; without a store the index alone answers.
func TestLookupFallsBackToTheStore(t *testing.T) {
	old, fresh := &subscriptions.Subscription{ID: "sub_old"}, &subscriptions.Subscription{ID: "sub_new"}
	idx := mapIndex{"sub_old": old}
	l := subscriptionLookup(Deps{Subscriptions: idx, Store: mapStore{"sub_old": old, "sub_new": fresh}})
	if got, ok := l.Get("sub_old"); !ok || got != old {
		t.Fatalf("indexed subscription: %v %v", got, ok)
	}
	if got, ok := l.Get("sub_new"); !ok || got != fresh {
		t.Fatalf("subscription only in the store: %v %v, want it found", got, ok)
	}
	if got, ok := l.Get("sub_gone"); ok || got != nil {
		t.Fatalf("deleted subscription: %v %v, want unknown", got, ok)
	}
	if _, ok := subscriptionLookup(Deps{Subscriptions: idx}).Get("sub_new"); ok {
		t.Fatal("without a store the index alone answers")
	}
}
