package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaSeeds returns the seed brokers from EVENTROUTER_TEST_KAFKA
// (comma-separated), or 127.0.0.1:9092. It does not contact them.
func KafkaSeeds() []string {
	var seeds []string
	for _, s := range strings.Split(envOr(EnvKafka, DefaultKafka), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// Kafka returns the seed brokers after checking that they answer a Metadata
// request within a few seconds. If they do not, it fails the test with
// t.Fatalf (it never skips) and says to run make services-up.
func Kafka(t testing.TB) []string {
	t.Helper()
	seeds := KafkaSeeds()
	addr := strings.Join(seeds, ",")
	err := probe("kafka "+addr, func(ctx context.Context) error { return pingKafka(ctx, seeds) })
	if err != nil {
		t.Fatalf("testenv: Kafka at %s (%s): %v; %s", addr, EnvKafka, err, startHint)
	}
	return seeds
}

// pingKafka asks for cluster metadata with a fresh client, so no backoff
// state from an earlier failed attempt delays the answer.
func pingKafka(ctx context.Context, seeds []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) == 0 {
		return errors.New("metadata lists no brokers")
	}
	return nil
}

// KafkaClient returns a client for the test brokers (checked as by Kafka).
// Before opts it sets the seed brokers and kgo.MetadataMinAge(100ms): kgo
// caches metadata for 5 s by default, which would hide a topic created or
// deleted a moment ago from kadm's ListTopics and Metadata. opts may override
// both. The client is closed when the test ends; a transactional client still
// in a transaction aborts it then.
func KafkaClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	seeds := Kafka(t)
	cl, err := newKafkaClient(seeds, opts...)
	if err != nil {
		t.Fatalf("testenv: kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newKafkaClient(seeds []string, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(100 * time.Millisecond)}
	return kgo.NewClient(append(base, opts...)...)
}

// KafkaAdmin returns an admin client for the test brokers, closed when the
// test ends.
func KafkaAdmin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(KafkaClient(t))
}

// NewTopic creates a topic named by Name(t, "topic") with the given number
// of partitions and the broker's default replication factor, waits until
// every partition has a leader, and deletes the topic when the test ends.
// Any failure to create it fails the test.
func NewTopic(t testing.TB, seeds []string, partitions int) string {
	t.Helper()
	return NewTopicWithConfigs(t, seeds, partitions, nil)
}

// NewTopicWithConfigs is NewTopic with topic-level configs, such as
// {"cleanup.policy": "compact"} or {"retention.ms": "60000"}.
func NewTopicWithConfigs(t testing.TB, seeds []string, partitions int, configs map[string]string) string {
	t.Helper()
	topic := Name(t, "topic")
	cl, err := newKafkaClient(seeds)
	if err != nil {
		t.Fatalf("testenv: kgo.NewClient: %v", err)
	}
	adm := kadm.NewClient(cl)
	// Registered first so it runs last: after the delete below.
	t.Cleanup(adm.Close)

	var cfg map[string]*string
	if len(configs) > 0 {
		cfg = make(map[string]*string, len(configs))
		for k, v := range configs {
			cfg[k] = kadm.StringPtr(v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, int32(partitions), -1, cfg, topic); err != nil {
		t.Fatalf("testenv: create topic %s: %v; %s", topic, err, startHint)
	}
	t.Cleanup(func() {
		// The test's context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			// A leftover topic harms no other test (names are unique) and is
			// wiped by the next services-up; report it without failing.
			t.Logf("testenv: delete topic %s: %v", topic, err)
		}
	})
	if err := waitLeaders(ctx, adm, topic, partitions); err != nil {
		t.Fatalf("testenv: topic %s: %v", topic, err)
	}
	return topic
}

// waitLeaders polls metadata until the topic has all its partitions, each
// with a leader, so that the first produce does not race topic creation.
func waitLeaders(ctx context.Context, adm *kadm.Client, topic string, partitions int) error {
	var last error
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			last = leadersReady(md, topic, partitions)
			if last == nil {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("partitions not led in time: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func leadersReady(md kadm.Metadata, topic string, partitions int) error {
	td, ok := md.Topics[topic]
	switch {
	case !ok:
		return errors.New("not in metadata yet")
	case td.Err != nil:
		return td.Err
	case len(td.Partitions) != partitions:
		return fmt.Errorf("%d of %d partitions in metadata", len(td.Partitions), partitions)
	}
	for _, p := range td.Partitions {
		if p.Err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	return nil
}
