package router

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A failed End (franz-go: unrecoverable for that client — what a long broker outage
// produces) does not stop the router: it starts a new transactional session and every
// (event, subscription) pair is still delivered exactly once.
func TestFailedSessionIsReplacedWithoutLossOrDuplicates(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_1", true, "", "*"))
	e.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.TransactionalIDAuthorizationFailed, Count: 1})
	r, missing, dup, _ := routeAndCount(t, e, "g-session", m)
	if missing > 0 || dup > 0 {
		t.Fatalf("after a failed session: %d missing, %d duplicated", missing, dup)
	}
	if n := value(r.metrics.aborted.WithLabelValues(abortSession)); n < 1 {
		t.Fatalf("transactions_aborted_total{session_failed} = %v, want ≥ 1 (the fault never hit End?)", n)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v after recovering; want nil on cancel", err)
	}
}
