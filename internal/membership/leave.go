package membership

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LeaveStatic removes the static member instanceID from group, so that the group
// reassigns its partitions now instead of after the session timeout.
//
// A static member's client does not leave its group on close: that is what lets a
// process restarted after a crash take its partitions back at once. On a graceful
// shutdown nobody knows whether the process comes back (a rolling restart) or not
// (scale-in, a Deployment's new pod name), and waiting out the session timeout would
// stall its partitions either way; so the roles leave explicitly, after closing their
// group client, with a short-lived client built from opts (seed brokers, TLS, SASL; no
// group or transactional options). A member already gone is not an error.
func LeaveStatic(ctx context.Context, opts []kgo.Opt, group, instanceID string) error {
	cl, err := kgo.NewClient(slices.Clone(opts)...)
	if err != nil {
		return fmt.Errorf("membership: leave %s: %w", group, err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs(instanceID).Reason("graceful shutdown"))
	if err != nil {
		return fmt.Errorf("membership: leave %s as %s: %w", group, instanceID, err)
	}
	for _, r := range resps {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownMemberID) {
			return fmt.Errorf("membership: leave %s as %s: %w", group, instanceID, r.Err)
		}
	}
	return nil
}
