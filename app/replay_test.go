package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/replay"
	"github.com/claimable/eventrouter/subscriptions"
)

// TestReplayThroughTheAPI: events delivered once are replayed through POST /v1/replays
// (a job of the api process): the dry run counts them and sends nothing, the real run
// delivers each again with the same webhook-id, and GET /v1/replays/{id} reports done.
func TestReplayThroughTheAPI(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	sub, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: "acct_1", URL: s.url + "/hooks/1", Events: []string{"claim.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recv.SetSecret("/hooks/1", sub.Secrets[0].Value); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(s.cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var ids []string
	for i := range 20 {
		e := events.Sample("claim.closed", "acct_1", fmt.Sprintf("clm_%d", i), i, time.Now())
		ids = append(ids, events.DeliveryID(e.ID, sub.ID))
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: s.cfg.Topics.Ingest[0], Key: []byte("acct_1"), Value: e.Marshal()}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, waitTimeout, "the first deliveries", func() bool { return s.recv.Stats().Unique == 20 })

	window := fmt.Sprintf(`"from":%q,"to":%q`, time.Now().Add(-time.Hour).Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339))
	run := func(dry bool) replay.Job {
		t.Helper()
		var started replay.Job
		if code := s.call(t, http.MethodPost, "/v1/replays", fmt.Sprintf(`{%s,"dry_run":%t}`, window, dry), &started); code != http.StatusAccepted {
			t.Fatalf("POST /v1/replays: %d", code)
		}
		var job replay.Job
		testenv.Eventually(t, waitTimeout, "the replay job", func() bool {
			s.call(t, http.MethodGet, "/v1/replays/"+started.ID, "", &job)
			return job.State == replay.StateDone || job.State == replay.StateFailed
		})
		if job.State != replay.StateDone || job.Counts[sub.ID]["claim.closed"] != 20 {
			t.Fatalf("replay (dry run %t): %+v", dry, job)
		}
		return job
	}
	run(true)
	run(false)
	testenv.Eventually(t, waitTimeout, "the replayed deliveries", func() bool {
		for _, id := range ids {
			if s.recv.Accepted(id) != 2 {
				return false
			}
		}
		return true
	})
	// The dry run's would come first on the subscription's partition: none did.
	if st := s.recv.Stats(); st.Unique != 20 || st.Requests != 40 || st.Unverified != 0 {
		t.Fatalf("after a dry run and a replay: %+v, want each of 20 deliveries twice", st)
	}
}
