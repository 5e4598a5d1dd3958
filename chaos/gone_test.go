//go:build chaos

package chaos

import (
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// routeLag is how long an event produced before the first 410 may still be routed
// after the router learnt that the subscription is disabled (and so legitimately not
// be routed to it). Under the scenario's load the router lags by milliseconds.
const routeLag = 2 * time.Second

// TestGoneDisablesAndDeadLetters makes one subscription's endpoint answer 410 Gone
// under load. The subscription must be disabled (checked in Redis), every delivery
// routed to it must be received or in the DLQ (counted by delivery id: nothing lost),
// every event produced while it was enabled must have been routed to it, and the other
// subscriptions — including the second one of the same account — must receive
// everything.
func TestGoneDisablesAndDeadLetters(t *testing.T) {
	s := newStack(t, options{accounts: 10, fanout: 2})
	s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	gone := s.byAcct[s.accts[0]][0]
	isGone := func(_ string, w *want) bool { return w.sub == gone.ID }
	dur := pick(30*time.Second, 15*time.Second)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 200, dur) }()
	time.Sleep(3 * time.Second)
	// A slow 410: while the first answers are pending, more deliveries queue for the
	// subscription in the sender, and those must go to the DLQ too.
	s.setBehaviour(gone.Path, http.StatusGone, 1500*time.Millisecond)
	prod := <-loadDone

	s.drain(pick(2*time.Minute, 90*time.Second), isGone)
	s.checkRoles()

	// Disabled in the store.
	var cur *subscriptions.Subscription
	testenv.Eventually(t, 30*time.Second, "subscription "+gone.ID+" disabled after its endpoint answered 410", func() bool {
		got, err := s.store.Get(ctx, gone.ID)
		cur = got
		return err == nil && !got.Enabled
	})
	if cur.DisabledReason == "" {
		t.Errorf("subscription %s disabled without a reason", gone.ID)
	}
	goneAt := s.firstForced(gone.Path)
	if goneAt.IsZero() {
		t.Fatal("the endpoint never answered 410")
	}

	// What the router routed to it, and what reached the DLQ.
	want := s.ledger.snapshot()
	var goneIDs []string
	for id, w := range want {
		if w.sub == gone.ID {
			goneIDs = append(goneIDs, id)
		}
	}
	routed := map[string]bool{}
	for _, r := range s.readTopic(s.cfg.Topics.Deliveries, 60*time.Second, nil) {
		if string(r.Key) == gone.ID {
			id, _ := header(r, events.HeaderDeliveryID)
			routed[id] = true
		}
	}
	inDLQ := map[string]string{}
	dlq := s.readTopic(s.cfg.Topics.DLQ, 60*time.Second, func(rs []*kgo.Record) bool { return dlqCovers(rs, routed, s.ledger) })
	otherDLQ := 0
	for _, r := range dlq {
		id, _ := header(r, events.HeaderDeliveryID)
		reason, _ := header(r, events.HeaderReason)
		if string(r.Key) != gone.ID {
			otherDLQ++
			continue
		}
		inDLQ[id] = reason
	}
	var received, deadLettered, notRouted, lost int
	for _, id := range goneIDs {
		w := want[id]
		switch {
		case s.ledger.acceptedCount(id) > 0:
			received++
		case inDLQ[id] != "":
			deadLettered++
		case routed[id]:
			lost++
			t.Errorf("LOST: delivery %s was routed to the disabled subscription but is neither received nor in the DLQ", id)
		case w.producedAt.Before(goneAt.Add(-routeLag)):
			lost++
			t.Errorf("LOST: event of delivery %s was produced %s before the first 410 but never routed to the subscription", id, goneAt.Sub(w.producedAt))
		default:
			notRouted++ // produced after the subscription was (about to be) disabled
		}
	}
	tl := s.ledger.tally(isGone)
	s.report("endpoint-410", prod, tl, map[string]any{
		"gone_subscription_deliveries": len(goneIDs), "gone_received_before_410": received,
		"gone_dead_lettered": deadLettered, "gone_not_routed_after_disable": notRouted, "gone_lost": lost,
		"dlq_reasons": reasons(inDLQ), "other_dlq_records": otherDLQ,
	})
	if tl.Duplicates != 0 {
		t.Errorf("FINDING: %d duplicate deliveries although no process crashed", tl.Duplicates)
	}
	if tl.Lost != 0 {
		t.Errorf("other subscriptions lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
	if deadLettered < 2 {
		t.Errorf("%d deliveries of the 410 subscription reached the DLQ; the scenario needs queued ones too", deadLettered)
	}
	if otherDLQ != 0 {
		t.Errorf("%d deliveries of healthy subscriptions reached the DLQ", otherDLQ)
	}
}

// dlqCovers reports whether every routed delivery not received is in the DLQ records.
func dlqCovers(rs []*kgo.Record, routed map[string]bool, l *ledger) bool {
	have := map[string]bool{}
	for _, r := range rs {
		id, _ := header(r, events.HeaderDeliveryID)
		have[id] = true
	}
	for id := range routed {
		if !have[id] && l.acceptedCount(id) == 0 {
			return false
		}
	}
	return true
}

func reasons(m map[string]string) map[string]int {
	out := map[string]int{}
	for _, r := range m {
		out[r]++
	}
	return out
}
