package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
)

type lookupFunc func(ctx context.Context, id string) (*DeliveryStatus, error)

func (f lookupFunc) Delivery(ctx context.Context, id string) (*DeliveryStatus, error) {
	return f(ctx, id)
}

// An API redelivery restarts the delivery exactly as a DLQ re-drive does: same
// webhook-id, attempt 1 with no first-attempt time, earlier attempts kept and the
// restart recorded, er-redrive api. An id the attempt log does not know is
// ErrDeliveryNotFound.
func TestRedeliverRestartsTheDelivery(t *testing.T) {
	h := newHarness(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := newTestDelivery("sub_1", "clm_1", 1)
	d.Attempt, d.FirstAttemptAt, d.Reason = 3, time.Now().Add(-time.Hour), string(ReasonRetryExhausted)
	d.History = []events.AttemptSummary{{Attempt: 1, Status: 500, Reason: "http_status"}, {Attempt: 2, Status: 500, Reason: "http_status"}}
	res := h.prod.ProduceSync(ctx, d.Record(h.cfg.DLQTopic))
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	rec, _ := res.First()
	lookup := lookupFunc(func(_ context.Context, id string) (*DeliveryStatus, error) {
		if id != d.ID {
			return nil, ErrDeliveryNotFound
		}
		return &DeliveryStatus{ID: id, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}, nil
	})
	r := NewRequeuer(lookup, h.prod, h.cfg.DeliveriesTopic, nil)
	if err := r.Redeliver(ctx, "msg_unknown"); !errors.Is(err, ErrDeliveryNotFound) {
		t.Fatalf("unknown id: err = %v, want ErrDeliveryNotFound", err)
	}
	if err := r.Redeliver(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	out := h.read(h.cfg.DeliveriesTopic, 1, 10*time.Second)
	if len(out) != 1 {
		t.Fatalf("%d records on the deliveries topic, want 1", len(out))
	}
	got, err := events.ParseDelivery(out[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != d.ID || got.Attempt != 1 || !got.FirstAttemptAt.IsZero() || got.Reason != "" || got.Redrive != events.RedriveAPI {
		t.Fatalf("redelivered %+v: want the same id, attempt 1, no first-attempt time, no reason, er-redrive api", got)
	}
	if len(got.History) != 3 || got.History[2].Reason != events.ReasonRestarted+":"+events.RedriveAPI {
		t.Fatalf("history %+v: want both earlier attempts, then the restart", got.History)
	}
}
