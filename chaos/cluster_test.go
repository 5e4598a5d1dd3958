//go:build chaos && cluster

package chaos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/claimable/eventrouter/app"
)

// The multi-broker scenarios run against the 3-node cluster of scripts/kafka-cluster.sh
// (`make cluster-up`: replication factor 3, min.insync.replicas=2) and carry the build
// tags `chaos cluster`; `make chaos-cluster` starts the cluster, runs them and stops it.

// clusterSize is the number of nodes scripts/kafka-cluster.sh runs (node ids 1..3).
const clusterSize = 3

// envCluster overrides the cluster's seed brokers (comma-separated).
const envCluster = "EVENTROUTER_TEST_KAFKA_CLUSTER"

// clusterSeeds returns the cluster's seed brokers after checking that every node is
// in the cluster; it fails the test (never skips) and says to run make cluster-up.
func clusterSeeds(t *testing.T) []string {
	t.Helper()
	addr := os.Getenv(envCluster)
	if addr == "" {
		addr = "127.0.0.1:19192,127.0.0.1:19194,127.0.0.1:19196"
	}
	seeds := strings.Split(addr, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := req.RequestWith(ctx, cl)
	if err == nil && len(resp.Brokers) != clusterSize {
		err = fmt.Errorf("metadata lists %d brokers, want %d", len(resp.Brokers), clusterSize)
	}
	if err != nil {
		t.Fatalf("Kafka cluster at %s (%s): %v; run make cluster-up", addr, envCluster, err)
	}
	return seeds
}

// node runs scripts/kafka-cluster.sh verb id: start (waits until the node is back in
// the cluster), stop (controlled shutdown) or kill (SIGKILL).
func node(verb string, id int32) error {
	return service("kafka-cluster", verb, strconv.Itoa(int(id)))
}

// newClusterStack is newStack on the cluster with replication factor 3. Whatever
// happens, every node is running again when the test ends.
func newClusterStack(t *testing.T) *stack {
	t.Helper()
	s := newStack(t, options{accounts: 10, fanout: 2, seeds: clusterSeeds(t), replication: clusterSize})
	t.Cleanup(func() {
		if err := service("kafka-cluster", "up"); err != nil {
			t.Errorf("starting the cluster's nodes again after the test: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A broker may not know a topic created a moment ago: poll.
	_, err := poll(ctx, 20*time.Second, func(ctx context.Context) error {
		cfgs, err := s.adm.DescribeTopicConfigs(ctx, s.cfg.Topics.Deliveries)
		if err == nil {
			err = cfgs[0].Err
		}
		if err != nil {
			return err
		}
		if v := configValue(cfgs[0].Configs, "min.insync.replicas"); v != "2" {
			return fmt.Errorf("%s: min.insync.replicas = %q, want 2 (deploy/local/cluster.properties.tmpl)", s.cfg.Topics.Deliveries, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.waitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// partitionState is one partition's leader.
type partitionState struct {
	topic     string
	partition int32
	leader    int32
}

// partitions reads every partition of names with a fresh metadata request.
func (s *stack) partitions(ctx context.Context, names ...string) ([]partitionState, error) {
	md, err := s.adm.Metadata(ctx, names...)
	if err != nil {
		return nil, err
	}
	var out []partitionState
	for _, name := range names {
		td, ok := md.Topics[name]
		if !ok || td.Err != nil {
			return nil, fmt.Errorf("metadata of %s: %v", name, td.Err)
		}
		for _, p := range td.Partitions {
			out = append(out, partitionState{topic: name, partition: p.Partition, leader: p.Leader})
		}
	}
	return out, nil
}

// busiestLeader returns the node leading the most partitions of names, and how many.
func (s *stack) busiestLeader(ctx context.Context, names ...string) (int32, int, error) {
	ps, err := s.partitions(ctx, names...)
	if err != nil {
		return 0, 0, err
	}
	led := map[int32]int{}
	var best int32 = -1
	for _, p := range ps {
		if p.leader < 0 {
			continue
		}
		led[p.leader]++
		if best < 0 || led[p.leader] > led[best] {
			best = p.leader
		}
	}
	if best < 0 {
		return 0, 0, fmt.Errorf("no partition of %v has a leader", names)
	}
	return best, led[best], nil
}

// poll calls check every 200 ms until it returns nil, and returns how long that took;
// after limit it returns check's last error.
func poll(ctx context.Context, limit time.Duration, check func(context.Context) error) (time.Duration, error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(t0), fmt.Errorf("after %s: %w", limit, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitLeadersOff waits until every partition of names has a leader other than gone.
func (s *stack) waitLeadersOff(ctx context.Context, gone int32, names ...string) (time.Duration, error) {
	return poll(ctx, 2*time.Minute, func(ctx context.Context) error {
		ps, err := s.partitions(ctx, names...)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.leader < 0 || p.leader == gone {
				return fmt.Errorf("%s/%d is led by %d", p.topic, p.partition, p.leader)
			}
		}
		return nil
	})
}

// waitInSync waits until every partition of the scenario's topics and of the internal
// topics the roles use (offsets, transaction state) has all its replicas in sync: the
// condition for taking the next broker down in a rolling restart.
func (s *stack) waitInSync(ctx context.Context) (time.Duration, error) {
	names := []string{"__consumer_offsets", "__transaction_state"}
	for _, sp := range app.TopicSpecs(s.cfg, true) {
		names = append(names, sp.Name)
	}
	return poll(ctx, 3*time.Minute, func(ctx context.Context) error {
		md, err := s.adm.Metadata(ctx, names...)
		if err != nil {
			return err
		}
		for _, name := range names {
			td := md.Topics[name]
			if td.Err != nil && strings.HasPrefix(name, "__") {
				continue // not created yet: nothing used it
			}
			if td.Err != nil {
				return fmt.Errorf("metadata of %s: %w", name, td.Err)
			}
			for _, p := range td.Partitions {
				if len(p.Replicas) != clusterSize || len(p.ISR) != len(p.Replicas) {
					return fmt.Errorf("%s/%d: %d of %d replicas in sync", name, p.Partition, len(p.ISR), len(p.Replicas))
				}
			}
		}
		return nil
	})
}

func configValue(cfgs []kadm.Config, key string) string {
	for _, c := range cfgs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}
