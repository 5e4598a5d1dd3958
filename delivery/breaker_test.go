package delivery

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openBreaker(t *testing.T, b *Breakers, sub string, threshold int) {
	t.Helper()
	for i := range threshold {
		if ok, _ := b.Allow(sub); !ok {
			t.Fatalf("call %d refused before the threshold", i+1)
		}
		b.Record(sub, false)
	}
	if b.State(sub) != Open {
		t.Fatalf("state after %d failures = %s, want open", threshold, b.State(sub))
	}
}

func TestBreakerOpensAfterThreshold(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBreakers(3, time.Minute, clk.Now)
	b.Record("s", false)
	b.Record("s", false)
	b.Record("s", true) // a success resets the consecutive count
	b.Record("s", false)
	b.Record("s", false)
	if b.State("s") != Closed {
		t.Fatal("non-consecutive failures opened the circuit")
	}
	b.Record("s", false)
	if b.State("s") != Open {
		t.Fatalf("state = %s, want open after 3 consecutive failures", b.State("s"))
	}
	if ok, _ := b.Allow("s"); ok {
		t.Fatal("open circuit allowed a call")
	}
	if ok, _ := b.Allow("other"); !ok || b.State("other") != Closed {
		t.Fatal("one subscription's circuit affected another")
	}
}

func TestBreakerSingleProbeAfterCooldown(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBreakers(2, time.Minute, clk.Now)
	openBreaker(t, b, "s", 2)
	clk.Add(59 * time.Second)
	if ok, _ := b.Allow("s"); ok {
		t.Fatal("allowed before the cool-down passed")
	}
	clk.Add(time.Second)
	var probes, allowed int
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 20 {
		wg.Go(func() {
			ok, probe := b.Allow("s")
			mu.Lock()
			defer mu.Unlock()
			if ok {
				allowed++
			}
			if probe {
				probes++
			}
		})
	}
	wg.Wait()
	if probes != 1 || allowed != 1 {
		t.Fatalf("%d callers allowed, %d probes; want exactly one probe", allowed, probes)
	}
	if b.State("s") != HalfOpen || b.State("s").String() != "half_open" {
		t.Fatalf("state = %s, want half_open", b.State("s"))
	}
}

func TestBreakerProbeOutcome(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBreakers(2, time.Minute, clk.Now)

	openBreaker(t, b, "s", 2)
	clk.Add(time.Minute)
	if _, probe := b.Allow("s"); !probe {
		t.Fatal("no probe after cool-down")
	}
	b.Record("s", false)
	if b.State("s") != Open {
		t.Fatalf("failed probe: state = %s, want open", b.State("s"))
	}
	if ok, _ := b.Allow("s"); ok {
		t.Fatal("failed probe did not restart the cool-down")
	}
	clk.Add(time.Minute)
	if _, probe := b.Allow("s"); !probe {
		t.Fatal("no probe after the second cool-down")
	}
	b.Record("s", true)
	if b.State("s") != Closed {
		t.Fatalf("successful probe: state = %s, want closed", b.State("s"))
	}
	if ok, probe := b.Allow("s"); !ok || probe {
		t.Fatal("closed circuit must allow calls without probing")
	}
	// After closing, the full threshold is needed again.
	b.Record("s", false)
	if b.State("s") != Closed {
		t.Fatal("a single failure re-opened a freshly closed circuit")
	}
}

func TestBreakerLostProbeIsReissued(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBreakers(1, time.Minute, clk.Now)
	openBreaker(t, b, "s", 1)
	clk.Add(time.Minute)
	if _, probe := b.Allow("s"); !probe {
		t.Fatal("no probe")
	}
	// The probe's caller never records (e.g. shutdown). Another cool-down later, a new
	// probe is handed out instead of the circuit staying half-open forever.
	clk.Add(time.Minute)
	if _, probe := b.Allow("s"); !probe {
		t.Fatal("lost probe was never reissued")
	}
}

// Wait tells a refused caller when the next probe is due and, while the probe is in
// flight, signals its outcome.
func TestBreakerWaitReportsNextProbeAndProbeOutcome(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBreakers(1, 30*time.Second, func() time.Time { return now })
	if next, probing := b.Wait("s"); !next.IsZero() || probing != nil {
		t.Fatalf("closed: Wait = %v, %v", next, probing)
	}
	b.Record("s", false) // opens at 1000
	if next, probing := b.Wait("s"); !next.Equal(now.Add(30*time.Second)) || probing != nil {
		t.Fatalf("open: Wait = %v, %v; want the end of the cool-down and no probe", next, probing)
	}
	now = now.Add(31 * time.Second)
	if ok, probe := b.Allow("s"); !ok || !probe {
		t.Fatal("the probe was not handed out after the cool-down")
	}
	_, probing := b.Wait("s")
	if probing == nil {
		t.Fatal("half-open: no probe channel")
	}
	select {
	case <-probing:
		t.Fatal("probe channel closed before the probe was recorded")
	default:
	}
	b.Record("s", true)
	select {
	case <-probing:
	default:
		t.Fatal("probe channel not closed when the probe succeeded")
	}
	if ok, _ := b.Allow("s"); !ok {
		t.Fatal("circuit not closed after a successful probe")
	}
}
