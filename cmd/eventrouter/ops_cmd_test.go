package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

func TestOpsTailPrintsTheOperationalEvents(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "webhooks.operational"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	for i, e := range []events.OpEvent{
		{Type: events.OpEndpointFailing, ID: "op_1", OccurredAt: now, AccountID: "acct_1", SubscriptionID: "sub_1", Data: events.OpData{ConsecutiveFailures: 10}},
		{Type: events.OpDeliveryExhausted, ID: "op_2", OccurredAt: now, AccountID: "acct_2", SubscriptionID: "sub_2"},
	} {
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "webhooks.operational", Value: b}).FirstErr(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	out, errOut, err := run(t, "ops", "tail", "--brokers", brokers, "--account", "acct_1")
	if err != nil {
		t.Fatalf("ops tail: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "endpoint.failing") || !strings.Contains(out, `"consecutive_failures":10`) || strings.Contains(out, "acct_2") {
		t.Errorf("ops tail --account acct_1 printed:\n%s", out)
	}
	if !strings.Contains(errOut, "read 2, matched 1") {
		t.Errorf("summary: %s", errOut)
	}
	out, _, err = run(t, "ops", "tail", "--brokers", brokers, "--json", "--type", "delivery.exhausted")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("--json: %v %q", err, out)
	}
	if e, err := events.ParseOpEvent([]byte(strings.TrimSpace(out))); err != nil || e.ID != "op_2" {
		t.Errorf("--json printed %q (%v), want the delivery.exhausted body", out, err)
	}
	if _, _, err := run(t, "ops", "tail", "--brokers", brokers, "--type", "claim.created"); err == nil || !strings.Contains(err.Error(), "--type") {
		t.Errorf("--type claim.created: %v, want an error naming --type", err)
	}
}
