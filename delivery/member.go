package delivery

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/internal/membership"
)

// member is this process's place in the sender group: the partitions it owns and the
// group's state (for Ready), whether Run is polling, and how a static member leaves.
type member struct {
	tracker *membership.Tracker
	running atomic.Bool // Run was called
	polling atomic.Bool // polling (not starting, not shutting down)

	group string
	// instanceID, when set, makes this process a static member; kafkaOpts are the
	// shared client options its explicit leave needs.
	instanceID string
	kafkaOpts  []kgo.Opt
}

func newMember(group, instanceID string, kafkaOpts []kgo.Opt) *member {
	return &member{tracker: membership.New(group), group: group, instanceID: instanceID, kafkaOpts: kafkaOpts}
}

// ready is Sender.Ready.
func (m *member) ready(ctx context.Context) error {
	if !m.polling.Load() {
		return errors.New("sender is not polling (starting or shutting down)")
	}
	return m.tracker.Check(ctx)
}

// leave makes a static member leave the group explicitly, so its partitions move at
// once (closing the client does not leave for a static member).
func (m *member) leave(log *zap.Logger) {
	if m.instanceID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := membership.LeaveStatic(ctx, m.kafkaOpts, m.group, m.instanceID); err != nil {
		log.Warn("leaving the group failed: its partitions move after the session timeout", zap.Error(err))
	}
}
