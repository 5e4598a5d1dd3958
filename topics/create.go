package topics

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Outcomes of creating one topic, carried by Result.Status.
const (
	StatusCreated = "created"
	StatusExists  = "exists"
	StatusFailed  = "failed"
)

// Result is what Create did with one Spec.
type Result struct {
	Topic  string
	Status string // StatusCreated, StatusExists or StatusFailed
	// Partitions is the topic's partition count after Create: the spec's when created,
	// the existing topic's when it existed (0 if it could not be read).
	Partitions int32
	// Warning is set when an existing topic differs from its spec in a way that
	// matters (partition count); Create never alters an existing topic.
	Warning string
	Err     error // set when Status is StatusFailed
}

// ErrReplicationFactor is returned (wrapped) by Create when a spec asks for more
// replicas than the cluster has brokers.
var ErrReplicationFactor = errors.New("replication factor exceeds the number of brokers")

// Create creates every spec'd topic that does not exist yet. It first checks that no
// spec asks for more replicas than the cluster has live brokers: if one does, it
// creates nothing and returns an error wrapping ErrReplicationFactor that names the
// factor, the broker count and topics.replication_factor. It is idempotent: an
// existing topic is reported as StatusExists, with a Warning when its partition count
// differs from the spec, and is left untouched (configs included). It returns one
// Result per spec, in spec order, and a non-nil error joining every failure (each
// naming its topic) when any topic could not be created.
func Create(ctx context.Context, adm *kadm.Client, specs []Spec) ([]Result, error) {
	if err := checkReplication(ctx, adm, specs); err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(specs))
	var errs []error
	var existing []string
	for _, s := range specs {
		cfg := make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, cfg, s.Name)
		switch {
		case err == nil:
			results = append(results, Result{Topic: s.Name, Status: StatusCreated, Partitions: resp.NumPartitions})
		case errors.Is(err, kerr.TopicAlreadyExists):
			results = append(results, Result{Topic: s.Name, Status: StatusExists})
			existing = append(existing, s.Name)
		default:
			err = fmt.Errorf("topics: create %s: %w", s.Name, err)
			results = append(results, Result{Topic: s.Name, Status: StatusFailed, Err: err})
			errs = append(errs, err)
		}
	}
	if len(existing) == 0 {
		return results, errors.Join(errs...)
	}
	details, err := adm.ListTopics(ctx, existing...)
	if err != nil {
		errs = append(errs, fmt.Errorf("topics: describe existing topics: %w", err))
		return results, errors.Join(errs...)
	}
	for i, r := range results {
		if r.Status != StatusExists {
			continue
		}
		d, ok := details[r.Topic]
		if !ok || d.Err != nil {
			results[i].Warning = "exists, but its partitions could not be read"
			continue
		}
		results[i].Partitions = int32(len(d.Partitions))
		if want := specs[i].Partitions; want > 0 && want != results[i].Partitions {
			results[i].Warning = fmt.Sprintf("has %d partitions, config says %d (not changed)", results[i].Partitions, want)
		}
	}
	return results, errors.Join(errs...)
}

// checkReplication refuses specs whose replication factor exceeds the brokers the
// cluster lists (live, registered brokers). The broker would refuse them too, but
// topic by topic and in its own words (INVALID_REPLICATION_FACTOR); this says once
// which setting to change. A factor ≤ 0 (the broker's default) is the broker's to check.
func checkReplication(ctx context.Context, adm *kadm.Client, specs []Spec) error {
	var want int16
	for _, s := range specs {
		want = max(want, s.ReplicationFactor)
	}
	if want <= 1 {
		return nil
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("topics: list brokers to check the replication factor: %w", err)
	}
	brokers := md.Brokers
	if int(want) > len(brokers) {
		return fmt.Errorf("topics: %w: topics.replication_factor is %d but the cluster has %d live broker(s) (%v); "+
			"set topics.replication_factor to at most %d, or start the missing brokers",
			ErrReplicationFactor, want, len(brokers), brokers.NodeIDs(), len(brokers))
	}
	return nil
}
