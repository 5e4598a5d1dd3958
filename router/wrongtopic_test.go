package router

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

// wrongTopicRecords are, in order: a contact event on the claims topic (wrong), a claim
// event there (right), a claim event on the contacts topic (wrong), a contact event
// there (right).
func wrongTopicRecords() (recs []*kgo.Record, wrong, right []*events.Event) {
	onTopic := func(topic, name, object string, seq int) (*kgo.Record, *events.Event) {
		rec, ev := eventRecord(name, "acc_1", object, seq)
		rec.Topic = topic
		return rec, ev
	}
	r1, wrong1 := onTopic(tIngest, "contact.created", "con_1", 1)
	r2, right1 := onTopic(tIngest, "claim.created", "clm_1", 2)
	r3, wrong2 := onTopic(tIngest2, "claim.closed", "clm_2", 3)
	r4, right2 := onTopic(tIngest2, "contact.created", "con_2", 4)
	return []*kgo.Record{r1, r2, r3, r4}, []*events.Event{wrong1, wrong2}, []*events.Event{right1, right2}
}

func wrongTopicConfig(e *env, group, action string) Config {
	cfg := e.config(group)
	cfg.TopicObjects = map[string][]string{tIngest: {"claim"}, tIngest2: {"contact"}}
	cfg.WrongTopic = action
	return cfg
}

// By default an event on another object's ingest topic goes to the invalid topic with
// reason wrong_topic, an error naming the right topic and its source headers, and is
// counted; events on their own topic are delivered.
func TestWrongTopicEventGoesToInvalidTopic(t *testing.T) {
	e := newEnv(t, 1, 1)
	recs, wrong, right := wrongTopicRecords()
	e.produce(t, recs...)
	cfg := wrongTopicConfig(e, "g-wrong-topic", "")
	r := e.start(t, cfg, newMatcher(t, sub("sub_a", "acc_1", true, "", "*")), newParser(t, 0))

	inv := e.reader(t, tInvalid).n(t, 2)
	got := map[string]*kgo.Record{}
	for _, rec := range inv {
		got[header(rec, events.HeaderSourceTopic)] = rec
	}
	for i, want := range []struct{ topic, belongs string }{{tIngest, tIngest2}, {tIngest2, tIngest}} {
		rec := got[want.topic]
		if rec == nil {
			t.Fatalf("no invalid record from %s; have %d records", want.topic, len(inv))
		}
		if reason := header(rec, events.HeaderReason); reason != string(events.ReasonWrongTopic) {
			t.Errorf("%s: er-reason = %q, want wrong_topic", want.topic, reason)
		}
		if msg := header(rec, events.HeaderError); !strings.Contains(msg, wrong[i].EventName) || !strings.HasSuffix(msg, "produce it to "+want.belongs) {
			t.Errorf("%s: er-error = %q, want it to name the event and %s", want.topic, msg, want.belongs)
		}
		if string(rec.Value) != string(wrong[i].Marshal()) || string(rec.Key) != "acc_1" {
			t.Errorf("%s: the original record was not kept", want.topic)
		}
	}
	dels := e.reader(t, tDeliveries).n(t, 2)
	for _, d := range dels {
		if id := header(d, events.HeaderEventID); id != right[0].ID && id != right[1].ID {
			t.Errorf("delivered event %s, want only the events on their own topic", id)
		}
	}
	wantWrongTopicCounts(t, r, 2)
}

// With router.wrong_topic: deliver, such events are delivered, and still counted.
func TestWrongTopicDeliverIsCounted(t *testing.T) {
	e := newEnv(t, 1, 1)
	recs, _, _ := wrongTopicRecords()
	e.produce(t, recs...)
	r := e.start(t, wrongTopicConfig(e, "g-wrong-topic-deliver", WrongTopicDeliver),
		newMatcher(t, sub("sub_a", "acc_1", true, "", "*")), newParser(t, 0))

	e.reader(t, tDeliveries).n(t, 4)
	wantWrongTopicCounts(t, r, 0)
}

func TestWrongTopicConfigIsChecked(t *testing.T) {
	e := newEnv(t, 1, 1)
	for _, tc := range []struct {
		edit  func(*Config)
		field string
	}{
		{func(c *Config) { c.TopicObjects = map[string][]string{"other.events": {"claim"}} }, "topics.ingest_objects"},
		{func(c *Config) { c.WrongTopic = "drop" }, "router.wrong_topic"},
	} {
		cfg := e.config("g")
		tc.edit(&cfg)
		_, err := New(cfg, Deps{Matcher: newMatcher(t), Parser: newParser(t, 0)}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New = %v, want an error naming %s", err, tc.field)
		}
	}
}

// wantWrongTopicCounts waits for the four records' batch to commit, then checks that one
// wrong-topic event was counted per ingest topic, and that invalid of them went to the
// invalid topic.
func wantWrongTopicCounts(t *testing.T, r *running, invalid float64) {
	t.Helper()
	testenv.Eventually(t, testTimeout, "the batch's metrics", func() bool {
		return value(r.metrics.consumed.WithLabelValues(tIngest))+value(r.metrics.consumed.WithLabelValues(tIngest2)) == 4
	})
	for _, topic := range []string{tIngest, tIngest2} {
		if n := value(r.metrics.wrongTopic.WithLabelValues(topic)); n != 1 {
			t.Errorf("events_wrong_topic_total{topic=%q} = %v, want 1", topic, n)
		}
	}
	if n := value(r.metrics.invalid.WithLabelValues(string(events.ReasonWrongTopic))); n != invalid {
		t.Errorf("events_invalid_total{reason=wrong_topic} = %v, want %v", n, invalid)
	}
}
