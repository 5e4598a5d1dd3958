package delivery

import (
	"testing"
	"time"
)

func TestRetryFollowsScheduleThenExhausts(t *testing.T) {
	p := RetryPolicy{Schedule: DefaultRetrySchedule()}
	fail := Result{Reason: ReasonHTTPStatus, Status: 500}
	var total time.Duration
	for attempt := 1; attempt <= len(p.Schedule); attempt++ {
		d, ok := p.Next(attempt, fail)
		if !ok || d != p.Schedule[attempt-1] {
			t.Fatalf("Next(%d) = %v, %v; want %v, true", attempt, d, ok, p.Schedule[attempt-1])
		}
		total += d
	}
	if total < 75*time.Hour || total > 76*time.Hour {
		t.Fatalf("default schedule spans %v, want about 75.5 h", total)
	}
	if _, ok := p.Next(len(p.Schedule)+1, fail); ok {
		t.Fatal("Next after the last scheduled retry must report exhaustion (DLQ)")
	}
	if _, ok := p.Next(0, fail); ok {
		t.Fatal("attempt 0 is not a failed attempt")
	}
}

func TestRetryJitterBounds(t *testing.T) {
	base := 100 * time.Second
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{
		{0, 80 * time.Second},         // -20 %
		{0.5, 100 * time.Second},      // centre
		{0.999999, 120 * time.Second}, // just under +20 %
	} {
		p := RetryPolicy{Schedule: []time.Duration{base}, Jitter: 0.2, Rand: func() float64 { return tc.r }}
		d, ok := p.Next(1, Result{Reason: ReasonTimeout})
		if !ok || d < tc.want-time.Millisecond || d > tc.want+time.Millisecond {
			t.Errorf("rand %v: delay %v, want ≈%v", tc.r, d, tc.want)
		}
	}
	// With the real source every delay stays inside ±20 %.
	p := RetryPolicy{Schedule: []time.Duration{base}, Jitter: 0.2}
	for range 1000 {
		d, _ := p.Next(1, Result{Reason: ReasonTimeout})
		if d < 80*time.Second || d > 120*time.Second {
			t.Fatalf("delay %v outside ±20 %% of %v", d, base)
		}
	}
}

func TestRetryHonoursRetryAfterWithinBounds(t *testing.T) {
	p := RetryPolicy{Schedule: []time.Duration{5 * time.Second}, RetryAfterMax: time.Hour}
	cases := []struct {
		name string
		res  Result
		want time.Duration
	}{
		{"429 longer than schedule", Result{Reason: ReasonRateLimited, Status: 429, RetryAfter: 10 * time.Minute}, 10 * time.Minute},
		{"503 longer than schedule", Result{Reason: ReasonHTTPStatus, Status: 503, RetryAfter: 2 * time.Minute}, 2 * time.Minute},
		{"shorter than schedule", Result{Reason: ReasonRateLimited, Status: 429, RetryAfter: time.Second}, 5 * time.Second},
		{"clamped", Result{Reason: ReasonRateLimited, Status: 429, RetryAfter: 48 * time.Hour}, time.Hour},
		{"ignored on 500", Result{Reason: ReasonHTTPStatus, Status: 500, RetryAfter: 10 * time.Minute}, 5 * time.Second},
	}
	for _, tc := range cases {
		if d, ok := p.Next(1, tc.res); !ok || d != tc.want {
			t.Errorf("%s: Next = %v, %v; want %v", tc.name, d, ok, tc.want)
		}
	}
	p.RetryAfterMax = 0
	if d, _ := p.Next(1, cases[0].res); d != 5*time.Second {
		t.Errorf("RetryAfterMax 0 must ignore Retry-After, got %v", d)
	}
}

func TestRetryStopsOnFinalReasons(t *testing.T) {
	p := RetryPolicy{Schedule: DefaultRetrySchedule()}
	for _, r := range []Reason{ReasonGone, ReasonInvalidURL, ReasonSSRFBlocked, ReasonDisabled, ReasonDeleted} {
		if _, ok := p.Next(1, Result{Reason: r}); ok {
			t.Errorf("%s must not be retried", r)
		}
	}
	for _, r := range []Reason{ReasonTimeout, ReasonConnection, ReasonDNS, ReasonTLS, ReasonRateLimited, ReasonCircuitOpen} {
		if _, ok := p.Next(1, Result{Reason: r}); !ok {
			t.Errorf("%s must be retried", r)
		}
	}
}
