//go:build integration

package subscriptions_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

func realService(t *testing.T) *subscriptions.Service {
	s, _, _ := realStore(t, bytes.Repeat([]byte{4}, 32))
	return subscriptions.NewService(s, subscriptions.Policy{
		RotationGrace: 24 * time.Hour, RotationGraceMax: 7 * 24 * time.Hour,
	}, nil)
}

// The reproduction: 15 parallel PATCHes and one rotation of the same
// subscription. Without compare-and-set the rotation was lost about 4 times in 20 (the
// API returned a secret that was never stored). Every round must keep the rotated
// secret and every PATCH.
func TestParallelPatchesNeverLoseARotationRealRedis(t *testing.T) {
	svc := realService(t)
	ctx := testenv.Context(t, 2*time.Minute)
	const rounds, patches = 25, 15
	for round := range rounds {
		sub, err := svc.Create(ctx, subscriptions.Input{AccountID: "acct_cas", URL: "https://hooks.example.com/cas", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, patches+1)
		var rotated *subscriptions.Subscription
		for i := range patches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rate := float64(i + 1)
				if _, err := svc.Update(ctx, sub.ID, subscriptions.Patch{RateLimit: &rate}, subscriptions.AnyVersion); err != nil {
					errs <- fmt.Errorf("patch %d: %w", i, err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if rotated, err = svc.Rotate(ctx, sub.ID, 0, subscriptions.AnyVersion); err != nil {
				errs <- fmt.Errorf("rotate: %w", err)
			}
		}()
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		stored, err := svc.Get(ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Secrets[0].Value != rotated.Secrets[0].Value {
			t.Fatalf("round %d: the stored current secret is not the one Rotate returned: the rotation was lost", round)
		}
		if len(stored.Secrets) != 2 || stored.Secrets[1].Value != sub.Secrets[0].Value {
			t.Fatalf("round %d: %d secrets, want the rotated one and the original", round, len(stored.Secrets))
		}
		// 16 writes each bumped the version once: none was swallowed by another.
		if want := sub.Version; stored.Version <= want {
			t.Fatalf("round %d: version %d did not move", round, stored.Version)
		}
	}
}

// The sender's auto-disable and a user PATCH race; both land, in whichever order.
func TestAutoDisableRacingPatchKeepsBothRealRedis(t *testing.T) {
	svc := realService(t)
	ctx := testenv.Context(t, time.Minute)
	for round := range 20 {
		sub, err := svc.Create(ctx, subscriptions.Input{AccountID: "acct_cas", URL: "https://hooks.example.com/cas", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		desc := fmt.Sprintf("edit %d", round)
		var wg sync.WaitGroup
		var errPatch, errDisable error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errPatch = svc.Update(ctx, sub.ID, subscriptions.Patch{Description: &desc}, subscriptions.AnyVersion)
		}()
		go func() { defer wg.Done(); errDisable = svc.Disable(ctx, sub.ID, "endpoint_gone") }()
		wg.Wait()
		if errPatch != nil || errDisable != nil {
			t.Fatalf("round %d: patch %v, disable %v", round, errPatch, errDisable)
		}
		got, _ := svc.Get(ctx, sub.ID)
		if got.Enabled || got.DisabledReason != "endpoint_gone" || got.Description != desc {
			t.Fatalf("round %d: enabled %v reason %q description %q: a change was lost", round, got.Enabled, got.DisabledReason, got.Description)
		}
	}
}
