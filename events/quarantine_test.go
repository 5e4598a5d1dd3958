package events

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A quarantined record is the original (key, value, headers first) plus the reason, the
// error and where it came from; an over-long or invalid error text is cut to valid
// UTF-8 within MaxErrorBytes.
func TestQuarantineKeepsTheOriginalAndSaysWhy(t *testing.T) {
	rec := &kgo.Record{Topic: "claims.events", Partition: 3, Offset: 42, Key: []byte("acct_1"), Value: []byte("{bad"),
		Headers: []kgo.RecordHeader{{Key: "x-producer", Value: []byte("claims")}}}
	msg := strings.Repeat("é", MaxErrorBytes) + "\xff"
	out := Quarantine(rec, "webhooks.invalid", "bad_json", msg)
	if out.Topic != "webhooks.invalid" || string(out.Key) != "acct_1" || string(out.Value) != "{bad" {
		t.Fatalf("record %s %q %q: want the original key and value on webhooks.invalid", out.Topic, out.Key, out.Value)
	}
	get := func(k string) string {
		for _, h := range out.Headers {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return "<none>"
	}
	if out.Headers[0].Key != "x-producer" || get(HeaderReason) != "bad_json" || get(HeaderSourceTopic) != "claims.events" ||
		get(HeaderSourcePartition) != "3" || get(HeaderSourceOffset) != "42" {
		t.Fatalf("headers %+v", out.Headers)
	}
	if e := get(HeaderError); len(e) > MaxErrorBytes || !utf8.ValidString(e) || !strings.HasPrefix(msg, e) || len(e) < MaxErrorBytes-1 {
		t.Fatalf("er-error is %d bytes (valid UTF-8: %v); want the message cut to at most %d", len(e), utf8.ValidString(e), MaxErrorBytes)
	}
}
