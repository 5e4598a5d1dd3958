package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

func TestRedriveSendsDLQBackToDeliveries(t *testing.T) {
	h := newHarness(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	want := map[string]bool{}
	for i := range 6 {
		sub := "sub_a"
		if i%2 == 1 {
			sub = "sub_b"
		}
		d := newTestDelivery(sub, "clm_1", i)
		d.Attempt, d.Reason = 10, string(ReasonRetryExhausted)
		d.NotBefore = time.Now().Add(time.Hour)
		d.History = []events.AttemptSummary{{Attempt: 9, Status: 500, Reason: "http_status"}}
		if sub == "sub_a" {
			want[d.ID] = true
		}
		recs = append(recs, d.Record(h.cfg.DLQTopic))
	}
	recs = append(recs, &kgo.Record{Topic: h.cfg.DLQTopic, Key: []byte("sub_a"), Value: []byte("garbage")})
	if err := h.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	opts := RedriveOptions{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(h.seeds...)}, DLQTopic: h.cfg.DLQTopic, DeliveriesTopic: h.cfg.DeliveriesTopic, SubscriptionID: "sub_a"}
	rep, err := Redrive(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 7 || rep.Matched != 3 || rep.Redriven != 3 || rep.Invalid != 1 {
		t.Fatalf("report %+v; want scanned 7, matched 3, redriven 3, invalid 1", rep)
	}
	out := h.read(h.cfg.DeliveriesTopic, 3, 10*time.Second)
	if len(out) != 3 {
		t.Fatalf("%d records on deliveries, want 3", len(out))
	}
	for _, r := range out {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		if !want[d.ID] || d.Attempt != 1 || !d.NotBefore.IsZero() || d.Redrive != events.RedriveDLQ || d.Reason != "" {
			t.Fatalf("re-driven delivery %+v", d)
		}
		if len(d.History) != 2 || d.History[0].Status != 500 || d.History[1].Reason != events.ReasonRestarted+":"+events.RedriveDLQ {
			t.Fatalf("re-driven history %+v: want the earlier attempt, then the restart", d.History)
		}
	}

	// Since after every record: nothing matches; the run still terminates.
	opts.SubscriptionID, opts.Since = "", time.Now().Add(time.Hour)
	rep, err = Redrive(ctx, opts)
	if err != nil || rep.Redriven != 0 {
		t.Fatalf("since-future redrive: %+v, %v", rep, err)
	}
}

func TestRedriveIsBoundedWhileDLQGrows(t *testing.T) {
	h := newHarness(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := newTestDelivery("sub_a", "clm_1", 1)
	if err := h.prod.ProduceSync(ctx, d.Record(h.cfg.DLQTopic)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Redrive into the DLQ itself: its own output must not be read back (end snapshot).
	rep, err := Redrive(ctx, RedriveOptions{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(h.seeds...)},
		DLQTopic: h.cfg.DLQTopic, DeliveriesTopic: h.cfg.DLQTopic})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 1 || rep.Redriven != 1 {
		t.Fatalf("report %+v; want exactly the one record present at start", rep)
	}
}

// Reasons limits a re-drive to the held deliveries: a retries_exhausted record of the
// same subscription stays in the DLQ.
func TestRedriveRecordFiltersByReason(t *testing.T) {
	opts := RedriveOptions{DeliveriesTopic: "d", SubscriptionID: "sub_1", Reasons: HeldReasons}
	var rep RedriveReport
	for reason, want := range map[Reason]bool{ReasonDisabled: true, ReasonGone: true, ReasonRetryExhausted: false} {
		d := newTestDelivery("sub_1", "clm_1", 1)
		d.Reason = string(reason)
		if got := redriveRecord(d.Record("dlq"), opts, &rep) != nil; got != want {
			t.Errorf("%s: re-driven %v, want %v", reason, got, want)
		}
	}
}
