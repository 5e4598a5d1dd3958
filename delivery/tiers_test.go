package delivery

import (
	"testing"
	"time"
)

func TestTiersMapDelaysToTopics(t *testing.T) {
	tr := newTiers("webhooks.retry.", []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 5 * time.Second, 2 * time.Hour})
	if got := tr.topics(); len(got) != 4 || got[0] != "webhooks.retry.5s" || got[3] != "webhooks.retry.2h" {
		t.Fatalf("topics = %v", got)
	}
	cases := []struct {
		want time.Duration
		tier string
	}{
		{0, "webhooks.retry.5s"},                 // immediate: smallest tier
		{4 * time.Second, "webhooks.retry.5s"},   // below every tier: smallest
		{6 * time.Second, "webhooks.retry.5s"},   // +20 % jitter stays in its tier
		{4 * time.Minute, "webhooks.retry.5m"},   // -20 % jitter stays in its tier
		{6 * time.Minute, "webhooks.retry.5m"},   // +20 %
		{time.Hour, "webhooks.retry.30m"},        // between tiers: the one below (hops)
		{100 * time.Hour, "webhooks.retry.2h"},   // beyond: the largest (hops)
		{24 * time.Minute, "webhooks.retry.30m"}, // 30m·0.8
		{5*time.Minute + 59*time.Second, "webhooks.retry.5m"},
	}
	for _, c := range cases {
		if got := tr.forDelay(c.want).topic; got != c.tier {
			t.Errorf("forDelay(%s) = %s, want %s", c.want, got, c.tier)
		}
	}
	if d, ok := tr.delayOf("webhooks.retry.30m"); !ok || d != 30*time.Minute {
		t.Fatalf("delayOf = %s %v", d, ok)
	}
	if _, ok := tr.delayOf("webhooks.deliveries"); ok {
		t.Fatal("deliveries topic taken for a tier")
	}
}

func TestSurfaceAtBoundsHeadOfLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Due before the tier bound: surfaces when due.
	if got := surfaceAt(t0.Add(4*time.Second), t0, 5*time.Second); !got.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("surfaceAt = %s", got)
	}
	// Due far beyond the tier's delay: surfaces at the tier bound (to hop), not later.
	if got := surfaceAt(t0.Add(time.Hour), t0, 5*time.Minute); !got.Equal(t0.Add(5*time.Minute + 75*time.Second)) {
		t.Fatalf("surfaceAt = %s, want produced + 1.25·delay", got)
	}
	// No not-before header: the tier delay bound.
	if got := surfaceAt(time.Time{}, t0, 4*time.Second); !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("surfaceAt = %s", got)
	}
}
