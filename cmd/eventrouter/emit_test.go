package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
)

func consumeAll(t *testing.T, seeds []string, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestEmitProducesValidEventsToTheirObjectsTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "claims.events", "contacts.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	out, _, err := run(t, "emit", "--brokers", brokers, "--count", "2", "--account", "acct_x",
		"--source", "api", "--performed-by", "token:ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "emitted 18 event(s)") {
		t.Fatalf("output: %q", out)
	}
	cat, _ := events.NewCatalogue(config.DefaultCatalogue)
	parser := events.NewParser(cat, 0)
	recs := consumeAll(t, cluster.ListenAddrs(), "claims.events", "contacts.events")
	if len(recs) != 18 {
		t.Fatalf("%d records, want 18 (2 rounds of 9 names)", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		e, err := parser.Parse(r.Value)
		if err != nil {
			t.Fatalf("emitted an invalid event: %v", err)
		}
		if string(r.Key) != "acct_x" || e.AccountID != "acct_x" || e.Source != "api" || e.PerformedBy != "token:ci" {
			t.Fatalf("record key %q, event %+v", r.Key, e)
		}
		if want := e.Object + "s.events"; r.Topic != want {
			t.Fatalf("%s went to %s, want %s", e.EventName, r.Topic, want)
		}
		if seen[e.ID] {
			t.Fatalf("duplicate event id %s", e.ID)
		}
		seen[e.ID] = true
	}
}

func TestEmitRefusesBadInputWithoutProducing(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "claims.events", "contacts.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	if _, _, err := run(t, "emit", "--brokers", brokers, "--event", "claim.deleted"); err == nil || !strings.Contains(err.Error(), `"claim.deleted"`) {
		t.Fatalf("unknown event: %v", err)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	good := string(events.Sample("claim.closed", "acct_f", "claim_1", 1, time.Now()).Marshal())
	if err := os.WriteFile(file, []byte(good+"\n{\"id\":\"evt_2\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "emit", "--brokers", brokers, "--file", file)
	if err == nil || !strings.Contains(err.Error(), "event 2") {
		t.Fatalf("a file with an invalid second event must be refused naming it: %v", err)
	}
	if recs := consumeAll(t, cluster.ListenAddrs(), "claims.events"); len(recs) != 0 {
		t.Fatalf("%d records produced from a refused file", len(recs))
	}
	if err := os.WriteFile(file, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "emit", "--brokers", brokers, "--file", file); err != nil || !strings.Contains(out, "emitted 1 event(s)") {
		t.Fatalf("valid file: %v %q", err, out)
	}
}
