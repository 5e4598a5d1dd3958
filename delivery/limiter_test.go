package delivery

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiterRespectsRate(t *testing.T) {
	l := NewLimiters()
	const perSec = 50.0 // burst 50
	const n = 60
	start := time.Now()
	for range n {
		if err := l.Wait(context.Background(), "s", perSec); err != nil {
			t.Fatal(err)
		}
	}
	// The first 50 are the burst; the other 10 need at least 10/50 s.
	if elapsed, min := time.Since(start), time.Duration(float64(n-50)/perSec*float64(time.Second)); elapsed < min-10*time.Millisecond {
		t.Fatalf("%d tokens at %v/s took %v, want ≥ %v", n, perSec, elapsed, min)
	}
}

func TestLimiterUnlimitedAndIsolated(t *testing.T) {
	l := NewLimiters()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 10000 {
		if err := l.Wait(ctx, "free", 0); err != nil {
			t.Fatalf("unlimited subscription waited: %v", err)
		}
	}
	// Exhaust a slow subscription; another subscription is unaffected.
	if err := l.Wait(ctx, "slow", 0.5); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := l.Wait(short, "slow", 0.5); err == nil {
		t.Fatal("second token at 0.5/s was granted immediately")
	}
	if err := l.Wait(ctx, "fast", 0.5); err != nil {
		t.Fatalf("another subscription was throttled: %v", err)
	}
}

func TestLimiterPicksUpRateChange(t *testing.T) {
	l := NewLimiters()
	ctx := context.Background()
	if err := l.Wait(ctx, "s", 0.1); err != nil { // burst 1, now empty for 10 s
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := l.Wait(short, "s", 0.1); err == nil {
		t.Fatal("token granted at 0.1/s")
	}
	// Raised to 1000/s: the next token is due within a millisecond or so.
	bounded, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if err := l.Wait(bounded, "s", 1000); err != nil {
		t.Fatalf("raised rate not applied: %v", err)
	}
}

func TestLimiterCancel(t *testing.T) {
	l := NewLimiters()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "s", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("unlimited Wait on a cancelled ctx = %v, want context.Canceled", err)
	}
}
