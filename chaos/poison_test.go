//go:build chaos

package chaos

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// headerCase marks each poison record so it can be found on the invalid topic (the
// router forwards the original headers).
const headerCase = "chaos-case"

// poison is one kind of bad ingest record and the er-reason it must get.
type poison struct {
	name   string
	reason events.Reason
	value  func(acct string, n int) []byte
}

// mutate returns a good event for acct as a JSON object changed by f.
func mutate(acct string, n int, f func(m map[string]any)) []byte {
	e := events.Sample("claim.created", acct, fmt.Sprintf("clm_poison_%d", n), n, time.Now())
	e.ID = fmt.Sprintf("evt_poison_%s_%d", acct, n)
	var m map[string]any
	_ = json.Unmarshal(e.Marshal(), &m)
	f(m)
	b, _ := json.Marshal(m)
	return b
}

var poisons = []poison{
	{"truncated-json", events.ReasonMalformedJSON, func(string, int) []byte { return []byte(`{"id":"evt_x","account_id":`) }},
	{"json-array", events.ReasonMalformedJSON, func(string, int) []byte { return []byte(`[1,2,3]`) }},
	{"not-json", events.ReasonMalformedJSON, func(string, int) []byte { return []byte("hello, kafka") }},
	{"unknown-event", events.ReasonUnknownEvent, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) { m["event_name"] = "claim.exploded" })
	}},
	{"object-mismatch", events.ReasonObjectMismatch, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) { m["object"] = "contact" })
	}},
	{"missing-account", events.ReasonMissingField, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) { delete(m, "account_id") })
	}},
	{"missing-data-id", events.ReasonMissingField, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) { m["data"] = map[string]any{"number": "CLM-1"} })
	}},
	{"bad-time", events.ReasonInvalidField, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) { m["occurred_at"] = "yesterday" })
	}},
	{"invalid-utf8", events.ReasonInvalidUTF8, func(a string, n int) []byte {
		b := mutate(a, n, func(m map[string]any) { m["performed_by"] = "MARKER" })
		return []byte(strings.Replace(string(b), "MARKER", "bad\xff\xfebytes", 1))
	}},
	{"5MiB", events.ReasonTooLarge, func(a string, n int) []byte {
		return mutate(a, n, func(m map[string]any) {
			m["data"].(map[string]any)["notes"] = strings.Repeat("x", 5<<20)
		})
	}},
}

// TestPoisonInput mixes bad records of every kind into good traffic. The good traffic
// must be delivered in full; every bad record must land on the invalid topic with its
// expected er-reason; no good record may land there. The ingest topic accepts records up
// to 8 MiB (max.message.bytes), like a broker configured for large events, so the 5 MiB
// record reaches the router and is rejected there (events.max_bytes 1 MiB).
func TestPoisonInput(t *testing.T) {
	s := newStack(t, options{accounts: 5, fanout: 2,
		ingestConfigs: map[string]string{"max.message.bytes": "8388608"}})
	s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	rounds := pick(3, 2)
	dur := pick(30*time.Second, 15*time.Second)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 100, dur) }()

	want := map[string]events.Reason{} // case id → reason
	var produceErrs []string
	for r := range rounds {
		for i, p := range poisons {
			id := fmt.Sprintf("%s-%d", p.name, r)
			acct := s.accts[(r+i)%len(s.accts)]
			rec := &kgo.Record{Topic: s.cfg.Topics.Ingest[0], Key: []byte(acct), Value: p.value(acct, r*100+i),
				Headers: []kgo.RecordHeader{{Key: headerCase, Value: []byte(id)}}}
			if err := s.prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
				produceErrs = append(produceErrs, id+": "+err.Error())
				continue
			}
			want[id] = p.reason
			time.Sleep(dur / time.Duration(rounds*len(poisons)+1))
		}
	}
	prod := <-loadDone
	for _, e := range produceErrs {
		t.Errorf("poison record not accepted by the broker: %s", e)
	}

	s.drain(pick(2*time.Minute, 90*time.Second), nil)
	s.checkRoles()
	invalid := s.readTopic(s.cfg.Topics.Invalid, 90*time.Second, func(rs []*kgo.Record) bool {
		n := 0
		for _, r := range rs {
			if _, ok := header(r, headerCase); ok {
				n++
			}
		}
		return n >= len(want)
	})
	got := map[string]string{}
	stray := 0
	for _, r := range invalid {
		id, ok := header(r, headerCase)
		if !ok {
			stray++
			reason, _ := header(r, events.HeaderReason)
			t.Errorf("a record without %s header (a good event?) on the invalid topic: reason %q key %q", headerCase, reason, r.Key)
			continue
		}
		reason, _ := header(r, events.HeaderReason)
		got[id] = reason
	}
	byReason := map[string]int{}
	for id, reason := range want {
		switch g, ok := got[id]; {
		case !ok:
			t.Errorf("LOST: poison record %s never reached the invalid topic", id)
		case g != string(reason):
			t.Errorf("poison record %s: er-reason %q, want %q", id, g, reason)
		default:
			byReason[g]++
		}
	}
	tl := s.ledger.tally(nil)
	s.report("poison", prod, tl, map[string]any{
		"bad_records": len(want), "bad_kinds": len(poisons), "invalid_by_reason": byReason,
		"invalid_records": len(invalid), "stray_invalid": stray,
	})
	if tl.Duplicates != 0 {
		t.Errorf("FINDING: %d duplicate deliveries although no process crashed", tl.Duplicates)
	}
	if tl.Lost != 0 {
		t.Errorf("good traffic: lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
}
