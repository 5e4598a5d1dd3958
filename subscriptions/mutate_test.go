package subscriptions

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// interleavingStore runs between() once, between the first Get and the Update that
// follows it: a concurrent writer that lands while a read-modify-write is in progress.
type interleavingStore struct {
	*serviceTestStore
	once    sync.Once
	between func()
	armed   bool
}

func (s *interleavingStore) Update(ctx context.Context, sub *Subscription) error {
	if s.armed {
		s.once.Do(s.between)
	}
	return s.serviceTestStore.Update(ctx, sub)
}

func newInterleaving(t *testing.T) (*Service, *interleavingStore) {
	svc, base, clock := newTestService(t)
	store := &interleavingStore{serviceTestStore: base}
	return NewService(store, svc.policy, clock.Now), store
}

func TestServiceRotateRacingAPatchKeepsBoth(t *testing.T) {
	svc, store := newInterleaving(t)
	sub, err := svc.Create(t.Context(), validInput())
	if err != nil {
		t.Fatal(err)
	}
	desc := "changed meanwhile"
	store.between = func() {
		if _, err := NewService(store.serviceTestStore, svc.policy, svc.now).Update(t.Context(), sub.ID, Patch{Description: &desc}, AnyVersion); err != nil {
			t.Error(err)
		}
	}
	store.armed = true
	rotated, err := svc.Rotate(t.Context(), sub.ID, 0, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if stored.Secrets[0].Value != rotated.Secrets[0].Value {
		t.Fatal("the secret Rotate returned is not the stored current secret (lost update)")
	}
	if stored.Description != desc {
		t.Fatalf("description %q: the concurrent patch was overwritten", stored.Description)
	}
}

func TestServiceDisableRacingAPatchKeepsBoth(t *testing.T) {
	svc, store := newInterleaving(t)
	sub, _ := svc.Create(t.Context(), validInput())
	desc := "user edit"
	store.between = func() {
		if _, err := NewService(store.serviceTestStore, svc.policy, svc.now).Update(t.Context(), sub.ID, Patch{Description: &desc}, AnyVersion); err != nil {
			t.Error(err)
		}
	}
	store.armed = true
	if err := svc.Disable(t.Context(), sub.ID, "endpoint_gone"); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if stored.Enabled || stored.DisabledReason != "endpoint_gone" || stored.Description != desc {
		t.Fatalf("enabled %v reason %q description %q: one of the two changes was lost", stored.Enabled, stored.DisabledReason, stored.Description)
	}
}

func TestServicePatchRacingADisableKeepsBoth(t *testing.T) {
	svc, store := newInterleaving(t)
	sub, _ := svc.Create(t.Context(), validInput())
	store.between = func() {
		if err := NewService(store.serviceTestStore, svc.policy, svc.now).Disable(t.Context(), sub.ID, "endpoint_gone"); err != nil {
			t.Error(err)
		}
	}
	store.armed = true
	desc := "user edit"
	if _, err := svc.Update(t.Context(), sub.ID, Patch{Description: &desc}, AnyVersion); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if stored.Enabled || stored.DisabledReason != "endpoint_gone" || stored.Description != desc {
		t.Fatalf("enabled %v reason %q description %q: one of the two changes was lost", stored.Enabled, stored.DisabledReason, stored.Description)
	}
}

func TestServiceIfVersionMismatchWritesNothing(t *testing.T) {
	svc, store, _ := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	desc := "v2"
	cur, err := svc.Update(t.Context(), sub.ID, Patch{Description: &desc}, sub.Version)
	if err != nil {
		t.Fatalf("update at the current version: %v", err)
	}
	stale := "from a stale read"
	if _, err := svc.Update(t.Context(), sub.ID, Patch{Description: &stale}, sub.Version); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("update at an old version: %v, want ErrVersionMismatch", err)
	}
	if _, err := svc.Rotate(t.Context(), sub.ID, 0, sub.Version); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("rotate at an old version: %v, want ErrVersionMismatch", err)
	}
	if err := svc.Delete(t.Context(), sub.ID, sub.Version); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("delete at an old version: %v, want ErrVersionMismatch", err)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if stored.Version != cur.Version || stored.Description != desc || stored.Secrets[0].Value != sub.Secrets[0].Value {
		t.Fatalf("a refused write changed the subscription: %+v", stored)
	}
}

// alwaysStale refuses every Update as if another writer always got in first.
type alwaysStale struct{ *serviceTestStore }

func (alwaysStale) Update(context.Context, *Subscription) error { return ErrVersionMismatch }

func TestServiceGivesUpUnderEndlessContention(t *testing.T) {
	svc, base, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	s := NewService(alwaysStale{base}, svc.policy, clock.Now)
	desc := "x"
	if _, err := s.Update(t.Context(), sub.ID, Patch{Description: &desc}, AnyVersion); !errors.Is(err, ErrContended) {
		t.Fatalf("endless contention: %v, want ErrContended", err)
	}
}
