package subscriptions

import (
	"errors"
	"testing"
	"time"
)

// The reproduction: 200 rotations grew the secrets (and the signature header)
// without bound, and after 12 every PATCH, even {"enabled": false}, was refused.
func TestServiceRotationIsCappedAndNeverBlocksPatches(t *testing.T) {
	svc, store, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	var last *Subscription
	for i := range 200 {
		clock.Advance(time.Minute)
		got, err := svc.Rotate(t.Context(), sub.ID, 0, AnyVersion)
		if err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		if len(got.Secrets) > MaxSecrets {
			t.Fatalf("rotation %d: %d secrets, cap %d", i+1, len(got.Secrets), MaxSecrets)
		}
		if last != nil && got.Secrets[1].Value != last.Secrets[0].Value {
			t.Fatalf("rotation %d: the secret just replaced was dropped instead of the oldest", i+1)
		}
		last = got
	}
	if n := len(last.ValidSecrets(clock.Now())); n != MaxSecrets {
		t.Fatalf("%d signing secrets after 200 rotations, want the cap %d", n, MaxSecrets)
	}
	off := false
	if _, err := svc.Update(t.Context(), sub.ID, Patch{Enabled: &off}, AnyVersion); err != nil {
		t.Fatalf(`PATCH {"enabled": false} after 200 rotations: %v`, err)
	}
	stored, _ := store.Get(t.Context(), sub.ID)
	if stored.Enabled || stored.Secrets[0].Value != last.Secrets[0].Value {
		t.Fatalf("after the patch: enabled %v, current secret kept %v", stored.Enabled, stored.Secrets[0].Value == last.Secrets[0].Value)
	}
}

func TestServiceRotationPrunesExpiredPreviousSecrets(t *testing.T) {
	svc, _, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	if _, err := svc.Rotate(t.Context(), sub.ID, time.Hour, AnyVersion); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	second, err := svc.Rotate(t.Context(), sub.ID, 48*time.Hour, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Secrets) != 3 {
		t.Fatalf("%d secrets within both grace periods, want 3", len(second.Secrets))
	}
	clock.Advance(time.Hour) // the first previous secret (1 h grace) has expired
	third, err := svc.Rotate(t.Context(), sub.ID, 0, AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	for i, sec := range third.Secrets {
		if i > 0 && !clock.Now().Before(sec.ExpiresAt) {
			t.Fatalf("secret %d expired at %v is still kept", i, sec.ExpiresAt)
		}
	}
	if len(third.Secrets) != 3 || third.Secrets[2].Value != second.Secrets[1].Value {
		t.Fatalf("after the third rotation: %d secrets, want current + the two unexpired", len(third.Secrets))
	}
}

func TestServicePatchHealsAnOverfullStoredSubscription(t *testing.T) {
	svc, store, clock := newTestService(t)
	sub, _ := svc.Create(t.Context(), validInput())
	stored, _ := store.Get(t.Context(), sub.ID)
	for range 15 { // as written by a release without the cap
		stored.Secrets = append(stored.Secrets, Secret{Value: NewSecret(), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)})
	}
	if err := store.Update(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	if n := len(stored.ValidSecrets(clock.Now())); n != MaxSecrets {
		t.Fatalf("ValidSecrets of an overfull subscription: %d, want at most %d", n, MaxSecrets)
	}
	off := false
	got, err := svc.Update(t.Context(), sub.ID, Patch{Enabled: &off}, AnyVersion)
	if err != nil {
		t.Fatalf("PATCH of a subscription stored with 16 secrets: %v", err)
	}
	if len(got.Secrets) != MaxSecrets || got.Secrets[0].Value != sub.Secrets[0].Value {
		t.Fatalf("%d secrets after the patch, want %d with the current one first", len(got.Secrets), MaxSecrets)
	}
}

func TestServiceRotateValidates(t *testing.T) {
	svc, store, _ := newTestService(t)
	bad := &Subscription{ID: NewID(time.Now()), AccountID: "acct_a", URL: "ftp://x", Events: []string{"claim.created"},
		Secrets: []Secret{{Value: NewSecret()}}}
	if err := store.Create(t.Context(), bad, 0); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Rotate(t.Context(), bad.ID, 0, AnyVersion)
	var v *ValidationError
	if !errors.As(err, &v) || v.Problems[0].Field != "url" {
		t.Fatalf("rotating an invalid subscription: %v, want a validation error on url", err)
	}
	stored, _ := store.Get(t.Context(), bad.ID)
	if stored.Secrets[0].Value != bad.Secrets[0].Value || stored.Version != bad.Version {
		t.Fatal("a refused rotation was stored")
	}
}
