// Package membership answers "is this consumer group member doing its job?" for
// /readyz: the broker is reachable and the member holds an assignment, or the group is
// stable with this member in it and simply has no partition left for it (more members
// than partitions). Joined-once is not enough: after a kill -9 and restart the group can
// sit in PreparingRebalance for a session timeout while the new process polls happily
// and delivers nothing, and during a broker outage a poll loop keeps spinning.
package membership

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tracker follows one group member's owned partitions through its rebalance callbacks
// and checks readiness against the broker. The zero value is not usable: use New.
// Safe for concurrent use.
type Tracker struct {
	group string

	mu    sync.Mutex
	owned map[string]map[int32]bool
	cl    *kgo.Client // the member's client; nil before Attach and after Detach
}

// New returns a Tracker for a member of group.
func New(group string) *Tracker {
	return &Tracker{group: group, owned: map[string]map[int32]bool{}}
}

// Attach sets the member's client (a new one per session for the router) and forgets
// any previous ownership.
func (t *Tracker) Attach(cl *kgo.Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cl = cl
	clear(t.owned)
}

// Detach marks the member as gone (shutting down, session closed): not ready.
func (t *Tracker) Detach() { t.Attach(nil) }

// Assigned records partitions the member now owns (call from OnPartitionsAssigned).
func (t *Tracker) Assigned(m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, ps := range m {
		if t.owned[topic] == nil {
			t.owned[topic] = map[int32]bool{}
		}
		for _, p := range ps {
			t.owned[topic][p] = true
		}
	}
}

// Released records partitions the member no longer owns (call from
// OnPartitionsRevoked and OnPartitionsLost).
func (t *Tracker) Released(m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			delete(t.owned[topic], p)
		}
		if len(t.owned[topic]) == 0 {
			delete(t.owned, topic)
		}
	}
}

// Owned returns how many partitions the member owns.
func (t *Tracker) Owned() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ps := range t.owned {
		n += len(ps)
	}
	return n
}

// ErrNotMember is wrapped by Check when the process is not an active member of its
// group with work: not started, shutting down, or waiting in a rebalance.
var ErrNotMember = errors.New("not an active member of its consumer group")

// Check returns nil when the broker answers and the member owns partitions, or the
// group is Stable with this member in it (it has more members than partitions). The
// error says which condition failed. It makes at most two requests (a metadata ping
// and, only when nothing is owned, DescribeGroups), bounded by ctx.
func (t *Tracker) Check(ctx context.Context) error {
	t.mu.Lock()
	cl := t.cl
	owned := 0
	for _, ps := range t.owned {
		owned += len(ps)
	}
	t.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("%w (group %s): not running", ErrNotMember, t.group)
	}
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("broker unreachable: %w", err)
	}
	if owned > 0 {
		return nil
	}
	memberID, _ := cl.GroupMetadata()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, t.group)
	if err != nil {
		return fmt.Errorf("%w (group %s): no partitions assigned and describing the group failed: %w", ErrNotMember, t.group, err)
	}
	g, ok := described[t.group]
	if !ok || g.Err != nil {
		return fmt.Errorf("%w (group %s): no partitions assigned and describing the group failed: %v", ErrNotMember, t.group, g.Err)
	}
	if g.State == "Stable" && memberID != "" {
		for _, m := range g.Members {
			if m.MemberID == memberID {
				return nil // a legitimate standby: more members than partitions
			}
		}
	}
	return fmt.Errorf("%w (group %s): no partitions assigned; the group is %s with %d members", ErrNotMember, t.group, g.State, len(g.Members))
}
