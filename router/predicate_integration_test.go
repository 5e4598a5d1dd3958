//go:build integration

package router

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// TestDataPredicatesRouteOnTheRealBroker: a subscription filtering on the claim's own
// fields (claim.type == "theft") receives exactly the theft claims, while an unfiltered
// one of the same account receives every event, through the real broker's
// transactions.
func TestDataPredicatesRouteOnTheRealBroker(t *testing.T) {
	seeds := testenv.Kafka(t)
	ingest, deliveries, invalid := testenv.NewTopic(t, seeds, 3), testenv.NewTopic(t, seeds, 3), testenv.NewTopic(t, seeds, 1)
	ix := subscriptions.NewStaticIndex([]*subscriptions.Subscription{
		{ID: "sub_theft", AccountID: "acct_p", Events: []string{"claim.*"}, Enabled: true, Filter: `claim.type == "theft"`},
		{ID: "sub_urgent_api", AccountID: "acct_p", Events: []string{"*"}, Enabled: true, Filter: `source == "api" and "urgent" in claim.labels`},
		{ID: "sub_all", AccountID: "acct_p", Events: []string{"*"}, Enabled: true},
	})
	r, err := New(Config{
		Group: testenv.Name(t, "group"), TransactionalIDPrefix: testenv.Name(t, "txn"),
		IngestTopics: []string{ingest}, DeliveriesTopic: deliveries, InvalidTopic: invalid,
	}, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Matcher: ix, Parser: newParser(t, 1<<20)}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testenv.Context(t, 3*time.Minute))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router Run: %v", err)
		}
	}()

	// 60 claims of every sample type, label set and source; the expectation is computed
	// from each event's own data.
	want := map[string]int{"sub_all": 0, "sub_theft": 0, "sub_urgent_api": 0}
	var recs []*kgo.Record
	for i := range 60 {
		e := events.Sample("claim.created", "acct_p", fmt.Sprintf("clm_%03d", i), i, time.Now())
		var c struct {
			Type   string   `json:"type"`
			Labels []string `json:"labels"`
		}
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatal(err)
		}
		want["sub_all"]++
		if c.Type == "theft" {
			want["sub_theft"]++
		}
		for _, l := range c.Labels {
			if l == "urgent" && e.Source == events.SourceAPI {
				want["sub_urgent_api"]++
			}
		}
		recs = append(recs, &kgo.Record{Topic: ingest, Key: []byte(e.AccountID), Value: e.Marshal()})
	}
	if want["sub_theft"] == 0 || want["sub_theft"] == 60 {
		t.Fatalf("sample data gives %d theft claims of 60: the test would prove nothing", want["sub_theft"])
	}
	prod := testenv.KafkaClient(t)
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	total := want["sub_all"] + want["sub_theft"] + want["sub_urgent_api"]
	rd := testenv.KafkaClient(t, kgo.ConsumeTopics(deliveries), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]int{}
	n := 0
	for n < total {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d deliveries: %v", n, total, got)
		}
		fs.EachRecord(func(rec *kgo.Record) { got[string(rec.Key)]++; n++ })
	}
	// Anything beyond the expected count would show up within a short extra read.
	extra, ecancel := context.WithTimeout(ctx, 2*time.Second)
	defer ecancel()
	rd.PollFetches(extra).EachRecord(func(rec *kgo.Record) { got[string(rec.Key)]++ })
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s received %d deliveries, want %d (all: %v, want %v)", id, got[id], w, got, want)
		}
	}
}
