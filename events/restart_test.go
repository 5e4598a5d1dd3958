package events

import (
	"testing"
	"time"
)

// A restarted delivery keeps its webhook-id, event, body and trace, counts attempts
// from 1 again (no first-attempt time, due at once, no reason), keeps its history with
// the restart recorded in it, and says who restarted it; all of it survives the wire.
func TestRestartKeepsIdentityStartsFreshAndRecordsIt(t *testing.T) {
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &Delivery{ID: "msg_1", SubscriptionID: "sub_1", AccountID: "acct_1", EventID: "evt_1", EventName: "claim.closed",
		ObjectID: "clm_1", Attempt: 9, FirstAttemptAt: first, OccurredAt: first, NotBefore: first.Add(time.Hour),
		Reason: "retries_exhausted", Trace: TraceContext{Parent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		History: []AttemptSummary{{Attempt: 9, At: first, Status: 500, Reason: "http_status"}}, Body: []byte(`{"x":1}`)}
	at := first.Add(48 * time.Hour)
	d.Restart(RedriveAPI, at)

	rec := d.Record("webhooks.deliveries")
	got, err := ParseDelivery(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "msg_1" || got.EventID != "evt_1" || string(got.Body) != `{"x":1}` || got.Trace != d.Trace {
		t.Errorf("identity changed: %+v", got)
	}
	if got.Attempt != 1 || !got.FirstAttemptAt.IsZero() || !got.NotBefore.IsZero() || got.Reason != "" {
		t.Errorf("attempt %d, first attempt %v, not before %v, reason %q: want a fresh start", got.Attempt, got.FirstAttemptAt, got.NotBefore, got.Reason)
	}
	if got.Redrive != RedriveAPI {
		t.Errorf("er-redrive %q, want %q", got.Redrive, RedriveAPI)
	}
	want := []AttemptSummary{{Attempt: 9, At: first, Status: 500, Reason: "http_status"}, {Attempt: 0, At: at, Reason: "restarted:api"}}
	if len(got.History) != 2 || got.History[0] != want[0] || got.History[1] != want[1] {
		t.Errorf("history %+v, want %+v", got.History, want)
	}
}
