//go:build integration

package router

import (
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

// Against the real broker: with the default router.wrong_topic, a contact event on the
// claims topic and a claim event on the contacts topic land on the invalid topic with
// reason wrong_topic, committed (read_committed), while the events on their own topics
// are delivered; both are counted.
func TestWrongTopicOnRealBroker(t *testing.T) {
	seeds := testenv.Kafka(t)
	e := &env{seeds: seeds}
	claims, contacts := testenv.NewTopic(t, seeds, 2), testenv.NewTopic(t, seeds, 2)
	invalidTopic, deliveries := testenv.NewTopic(t, seeds, 1), testenv.NewTopic(t, seeds, 2)
	cfg := Config{
		Group:                 testenv.Name(t, "group"),
		TransactionalIDPrefix: testenv.Name(t, "txn"),
		IngestTopics:          []string{claims, contacts},
		DeliveriesTopic:       deliveries,
		InvalidTopic:          invalidTopic,
		TopicObjects:          map[string][]string{claims: {"claim"}, contacts: {"contact"}},
		WrongTopic:            WrongTopicInvalid,
		TransactionTimeout:    10 * time.Second,
	}
	recs, wrong, right := wrongTopicRecords()
	for _, r := range recs {
		r.Topic = map[string]string{tIngest: claims, tIngest2: contacts}[r.Topic]
	}
	r := e.start(t, cfg, newMatcher(t, sub("sub_a", "acc_1", true, "", "*")), newParser(t, 0))
	e.produce(t, recs...)

	inv := e.reader(t, invalidTopic).n(t, 2)
	ids := map[string]string{}
	for _, rec := range inv {
		ev, err := newParser(t, 0).Parse(rec.Value)
		if err != nil {
			t.Fatalf("invalid record value is not the original event: %v", err)
		}
		ids[ev.ID] = header(rec, events.HeaderReason) + " from " + header(rec, events.HeaderSourceTopic)
	}
	if got, want := ids[wrong[0].ID], "wrong_topic from "+claims; got != want {
		t.Errorf("contact event on the claims topic: %q, want %q", got, want)
	}
	if got, want := ids[wrong[1].ID], "wrong_topic from "+contacts; got != want {
		t.Errorf("claim event on the contacts topic: %q, want %q", got, want)
	}
	dels := e.reader(t, deliveries).n(t, 2)
	for _, d := range dels {
		if id := header(d, events.HeaderEventID); id != right[0].ID && id != right[1].ID {
			t.Errorf("delivered %s, want only the events on their own topic", id)
		}
	}
	testenv.Eventually(t, testTimeout, "wrong_topic counted", func() bool {
		return value(r.metrics.wrongTopic.WithLabelValues(claims)) == 1 &&
			value(r.metrics.wrongTopic.WithLabelValues(contacts)) == 1 &&
			value(r.metrics.invalid.WithLabelValues(string(events.ReasonWrongTopic))) == 2
	})
}
