package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
)

// testCompareAndSet: a write naming a version the subscription is no longer at changes
// nothing, bumps no version and says ErrVersionMismatch.
func testCompareAndSet(t *testing.T, s subscriptions.Store) {
	sub := NewSub("acct_a")
	mustCreate(t, s, sub)
	read, _ := s.Get(ctx(t), sub.ID)
	stale, _ := s.Get(ctx(t), sub.ID)

	read.Description = "first"
	if err := s.Update(ctx(t), read); err != nil {
		t.Fatalf("update at the version read: %v", err)
	}
	v, _ := s.Version(ctx(t))
	stale.Description = "lost"
	if err := s.Update(ctx(t), stale); !errors.Is(err, subscriptions.ErrVersionMismatch) {
		t.Fatalf("update from a stale read: %v, want ErrVersionMismatch", err)
	}
	if stale.Version != sub.Version {
		t.Fatalf("a refused update set Version %d", stale.Version)
	}
	got, _ := s.Get(ctx(t), sub.ID)
	if got.Description != "first" || got.Version != read.Version {
		t.Fatalf("after a refused update: description %q version %d, want %q %d", got.Description, got.Version, "first", read.Version)
	}
	if v2, _ := s.Version(ctx(t)); v2 != v {
		t.Fatalf("a refused update moved the store version %d → %d", v, v2)
	}

	if err := s.Delete(ctx(t), sub.ID, sub.Version); !errors.Is(err, subscriptions.ErrVersionMismatch) {
		t.Fatalf("delete at a stale version: %v, want ErrVersionMismatch", err)
	}
	if _, err := s.Get(ctx(t), sub.ID); err != nil {
		t.Fatalf("a refused delete removed it: %v", err)
	}
	if err := s.Delete(ctx(t), sub.ID, got.Version); err != nil {
		t.Fatalf("delete at the current version: %v", err)
	}
}

// testConcurrentCAS: writers that each add to a counter with read, modify, compare-and-
// set, retrying on ErrVersionMismatch, end with every increment applied.
func testConcurrentCAS(t *testing.T, s subscriptions.Store) {
	sub := NewSub("acct_a")
	sub.Description = "0"
	mustCreate(t, s, sub)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				cur, err := s.Get(ctx(t), sub.ID)
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(cur.Description)
				cur.Description = strconv.Itoa(n + 1)
				switch err := s.Update(ctx(t), cur); {
				case err == nil:
					done++
				case !errors.Is(err, subscriptions.ErrVersionMismatch):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx(t), sub.ID)
	if got.Description != strconv.Itoa(writers*each) {
		t.Fatalf("counter %s after %d compare-and-set increments: updates were lost", got.Description, writers*each)
	}
}
