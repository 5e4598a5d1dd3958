package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestTopicsCreateTakesReplicationFactorFromConfig runs `topics create` against a
// one-broker cluster with topics.replication_factor 3 (set by environment, as a
// deployment would): it must refuse, naming the setting and the broker count.
func TestTopicsCreateTakesReplicationFactorFromConfig(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("EVENTROUTER_KAFKA_BROKERS", strings.Join(c.ListenAddrs(), ","))
	t.Setenv("EVENTROUTER_TOPICS_REPLICATION_FACTOR", "3")

	_, _, err = run(t, "topics", "create")
	if err == nil || !strings.Contains(err.Error(), "topics.replication_factor is 3 but the cluster has 1 live broker(s)") {
		t.Fatalf("topics create with replication factor 3 on 1 broker: err = %v", err)
	}

	t.Setenv("EVENTROUTER_TOPICS_REPLICATION_FACTOR", "1")
	out, _, err := run(t, "topics", "create")
	if err != nil || !strings.Contains(out, "created  webhooks.deliveries") {
		t.Fatalf("topics create with replication factor 1: %v\n%s", err, out)
	}
}
