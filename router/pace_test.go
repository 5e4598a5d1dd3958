package router

import (
	"testing"
	"time"
)

func TestPacerSpacesCommitsByTheRecentEndDuration(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var p pacer
	if got := p.commitAt(t0, 50*time.Millisecond); !got.Equal(t0) {
		t.Fatalf("first transaction of a session: commit at %v, want at once (%v)", got, t0)
	}

	// A fast broker: End takes 2 ms, so the next End may start 4 ms after it — sooner
	// than the next ingest fetch arrives (10 ms): no added latency.
	p.ended(2*time.Millisecond, t0)
	if got, want := p.commitAt(t0.Add(time.Millisecond), 50*time.Millisecond), t0.Add(4*time.Millisecond); !got.Equal(want) {
		t.Fatalf("fast broker: commit at %v, want %v", got, want)
	}

	// A busy broker: End durations climb to 12 ms; commits back off to ~2× that.
	for range 20 {
		p.ended(12*time.Millisecond, t0)
	}
	got := p.commitAt(t0.Add(time.Millisecond), 100*time.Millisecond)
	if d := got.Sub(t0); d < 22*time.Millisecond || d > 24*time.Millisecond {
		t.Fatalf("busy broker: commit %v after the last End, want ~24ms (2 × 12ms)", d)
	}

	// The pace never holds a transaction longer than max span after its Begin.
	if got, want := p.commitAt(t0.Add(time.Millisecond), 10*time.Millisecond), t0.Add(11*time.Millisecond); !got.Equal(want) {
		t.Fatalf("capped: commit at %v, want %v (Begin + max span)", got, want)
	}

	// After a quiet spell the time has passed: commit at once.
	late := t0.Add(time.Second)
	if got := p.commitAt(late, 50*time.Millisecond); got.After(late) {
		t.Fatalf("after a quiet second: commit at %v, want at once (%v)", got, late)
	}
}
