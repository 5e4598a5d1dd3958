package events

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fanout encodes the first delivery records of one event, one per matched
// subscription: each record is what NewDelivery(e, subscriptionID, body).Record(topic)
// returns (same topic, key, value and headers, in the same order), built for less. The
// event-level header values (account, event id, event name, object id, attempt 1,
// occurred-at) are encoded once into one buffer and shared by every record of the
// event; each record is then one allocation holding the record, its headers and, for
// subscription ids of up to fanoutInlineSub bytes, its delivery id and key.
//
// The records share their header values: nothing may modify them (franz-go does not).
// A Fanout is a value meant to live on the caller's stack for one event; it is safe
// for concurrent use once made.
type Fanout struct {
	topic string
	// shared are the event-level headers, in Delivery.Record's order.
	shared [fanoutShared]kgo.RecordHeader
	// idPrefix is the start of DeliveryID's hash input: the length-prefixed event id.
	idPrefix []byte
	// trace are the trace headers (SetTrace), after the others as in Delivery.Record.
	trace []kgo.RecordHeader
}

const (
	// fanoutShared counts the event-level headers: account id, event id, event name,
	// object id, attempt, occurred-at.
	fanoutShared = 6
	// deliveryIDLen is len(DeliveryID(…)): "msg_" and 26 base32 characters.
	deliveryIDLen = 4 + 26
	// fanoutInlineSub is the longest subscription id kept inside a fan-out record's
	// own allocation (ids made by the subscriptions package are 30 bytes); a longer
	// one costs one allocation more.
	fanoutInlineSub = 50
)

// fanoutRecord is one allocation: a delivery record, its headers and its ids.
type fanoutRecord struct {
	rec     kgo.Record
	headers [2 + fanoutShared]kgo.RecordHeader
	ids     [deliveryIDLen + fanoutInlineSub]byte
}

// NewFanout encodes e's event-level delivery headers for records on topic.
func NewFanout(e *Event, topic string) Fanout {
	const timeLen = len("2006-01-02T15:04:05.999999999Z") + 8
	idIn := deliveryIDInputLen(e.ID)
	buf := make([]byte, 0, idIn+len(e.AccountID)+len(e.ID)+len(e.EventName)+len(e.ObjectID)+1+timeLen)
	f := Fanout{topic: topic}
	buf = appendDeliveryIDInput(buf, e.ID)
	f.idPrefix = buf[:idIn:idIn]
	vals := [fanoutShared]string{e.AccountID, e.ID, e.EventName, e.ObjectID, "1"}
	keys := [fanoutShared]string{HeaderAccountID, HeaderEventID, HeaderEventName, HeaderObjectID, HeaderAttempt, HeaderOccurredAt}
	for i, k := range keys {
		s := len(buf)
		if k == HeaderOccurredAt {
			buf = e.OccurredAt.UTC().AppendFormat(buf, time.RFC3339Nano)
		} else {
			buf = append(buf, vals[i]...)
		}
		f.shared[i] = kgo.RecordHeader{Key: k, Value: buf[s:len(buf):len(buf)]}
	}
	return f
}

// SetTrace makes every record carry tc (Delivery.Trace) in its traceparent and
// tracestate headers, encoded once. A record then costs one allocation more; zero tc
// (tracing off) costs nothing.
func (f *Fanout) SetTrace(tc TraceContext) {
	if tc.Parent == "" {
		f.trace = nil
		return
	}
	f.trace = append(f.trace[:0], kgo.RecordHeader{Key: HeaderTraceParent, Value: []byte(tc.Parent)})
	if tc.State != "" {
		f.trace = append(f.trace, kgo.RecordHeader{Key: HeaderTraceState, Value: []byte(tc.State)})
	}
}

// Record returns the first delivery record of the event to subscriptionID, with value
// body (not copied; normally shared by every record of the event).
func (f *Fanout) Record(subscriptionID string, body []byte) *kgo.Record {
	r := new(fanoutRecord)
	var ids []byte
	if len(subscriptionID) <= fanoutInlineSub {
		ids = r.ids[:0]
	} else {
		ids = make([]byte, 0, deliveryIDLen+len(subscriptionID))
	}
	var in [128]byte
	ids = appendDeliveryID(ids, append(append(in[:0], f.idPrefix...), subscriptionID...))
	ids = append(ids, subscriptionID...)
	id, key := ids[:deliveryIDLen:deliveryIDLen], ids[deliveryIDLen:len(ids):len(ids)]
	r.headers[0] = kgo.RecordHeader{Key: HeaderDeliveryID, Value: id}
	r.headers[1] = kgo.RecordHeader{Key: HeaderSubscriptionID, Value: key}
	copy(r.headers[2:], f.shared[:])
	r.rec = kgo.Record{Topic: f.topic, Key: key, Value: body, Headers: r.headers[:]}
	if len(f.trace) > 0 {
		r.rec.Headers = append(r.headers[:len(r.headers):len(r.headers)], f.trace...)
	}
	return &r.rec
}
