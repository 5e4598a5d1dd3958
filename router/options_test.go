package router

import (
	"testing"
	"time"
)

// TestRetryBackoffStartsShortAndIsBounded: the first retry of a refused produce comes
// within tens of milliseconds (not franz-go's 250 ms), later ones back off, and no
// pause exceeds the bound, whatever the retry count.
func TestRetryBackoffStartsShortAndIsBounded(t *testing.T) {
	for range 100 {
		for _, n := range []int{-1, 0, 1} {
			if d := retryBackoff(n); d < 8*time.Millisecond || d > 12*time.Millisecond {
				t.Fatalf("retry %d after %s, want 10 ms ± 20 %%", n, d)
			}
		}
		if d := retryBackoff(4); d < 64*time.Millisecond || d > 96*time.Millisecond {
			t.Fatalf("fourth retry after %s, want 80 ms ± 20 %%", d)
		}
		for _, n := range []int{8, 30, 1 << 30} {
			if d := retryBackoff(n); d > 1200*time.Millisecond || d < 800*time.Millisecond {
				t.Fatalf("retry %d after %s, want the 1 s bound ± 20 %%", n, d)
			}
		}
	}
}
