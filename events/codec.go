package events

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the wire codec of the Delivery record (router → sender, retry tiers, DLQ).

// ErrBadDelivery is matched (errors.Is) by every *DeliveryError.
var ErrBadDelivery = errors.New("events: bad delivery record")

// DeliveryError says which header (or "key", "value") of a delivery record is missing
// or bad. Detail is bounded in length.
type DeliveryError struct {
	Header string
	Detail string
}

func (e *DeliveryError) Error() string {
	return "events: bad delivery record: " + strconv.Quote(e.Header) + ": " + e.Detail
}

// Is makes errors.Is(err, ErrBadDelivery) true for every *DeliveryError.
func (e *DeliveryError) Is(target error) bool { return target == ErrBadDelivery }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DeliveryID returns the delivery id of (eventID, subscriptionID): "msg_" followed by 26
// lower-case base32 characters (130 bits) of SHA-256 over the length-prefixed event id
// and the subscription id, so no two distinct pairs share an input. It is deterministic:
// a re-processed event yields the same webhook-id, which lets receivers dedupe.
func DeliveryID(eventID, subscriptionID string) string {
	var in [128]byte
	var out [deliveryIDLen]byte
	return string(appendDeliveryID(out[:0], append(appendDeliveryIDInput(in[:0], eventID), subscriptionID...)))
}

// appendDeliveryIDInput appends the start of DeliveryID's hash input: the event id,
// prefixed with its length (uvarint).
func appendDeliveryIDInput(dst []byte, eventID string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(eventID))), eventID...)
}

// deliveryIDInputLen is len(appendDeliveryIDInput(nil, eventID)).
func deliveryIDInputLen(eventID string) int {
	n := 1
	for x := uint64(len(eventID)); x >= 0x80; x >>= 7 {
		n++
	}
	return n + len(eventID)
}

// appendDeliveryID appends the delivery id whose hash input is in (see DeliveryID).
func appendDeliveryID(dst, in []byte) []byte {
	sum := sha256.Sum256(in)
	var enc [32]byte // base32 of 20 bytes is 32 characters; we keep 26
	idEncoding.Encode(enc[:], sum[:20])
	return append(append(dst, "msg_"...), enc[:deliveryIDLen-4]...)
}

// Record encodes d for topic: key SubscriptionID, value Body (shared, not copied), and
// the er-* headers. Optional headers (first-attempt-at, not-before, reason, history,
// redrive) are omitted when empty. Times are RFC 3339 with nanoseconds in UTC.
func (d *Delivery) Record(topic string) *kgo.Record {
	var hist []byte
	if len(d.History) > 0 {
		// Fails only for a time outside years 0-9999, which ParseDelivery never yields;
		// the header is then omitted rather than written half-formed.
		hist, _ = json.Marshal(d.History)
	}
	const timeLen = len("2006-01-02T15:04:05.999999999Z") + 8
	buf := make([]byte, 0, len(d.ID)+len(d.SubscriptionID)+len(d.AccountID)+len(d.EventID)+
		len(d.EventName)+len(d.ObjectID)+len(d.Reason)+len(d.Redrive)+len(d.Trace.Parent)+len(d.Trace.State)+20+3*timeLen)
	nh := 13
	if d.Trace.Parent != "" {
		nh += 2
	}
	hs := make([]kgo.RecordHeader, 0, nh)
	add := func(k, v string) {
		s := len(buf)
		buf = append(buf, v...)
		hs = append(hs, kgo.RecordHeader{Key: k, Value: buf[s:len(buf):len(buf)]})
	}
	addTime := func(k string, t time.Time) {
		s := len(buf)
		buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
		hs = append(hs, kgo.RecordHeader{Key: k, Value: buf[s:len(buf):len(buf)]})
	}
	add(HeaderDeliveryID, d.ID)
	add(HeaderSubscriptionID, d.SubscriptionID)
	key := hs[len(hs)-1].Value
	add(HeaderAccountID, d.AccountID)
	add(HeaderEventID, d.EventID)
	add(HeaderEventName, d.EventName)
	add(HeaderObjectID, d.ObjectID)
	s := len(buf)
	buf = strconv.AppendInt(buf, int64(d.Attempt), 10)
	hs = append(hs, kgo.RecordHeader{Key: HeaderAttempt, Value: buf[s:len(buf):len(buf)]})
	addTime(HeaderOccurredAt, d.OccurredAt)
	if !d.FirstAttemptAt.IsZero() {
		addTime(HeaderFirstAttemptAt, d.FirstAttemptAt)
	}
	if !d.NotBefore.IsZero() {
		addTime(HeaderNotBefore, d.NotBefore)
	}
	if d.Reason != "" {
		add(HeaderReason, d.Reason)
	}
	if d.Redrive != "" {
		add(HeaderRedrive, d.Redrive)
	}
	if hist != nil {
		hs = append(hs, kgo.RecordHeader{Key: HeaderHistory, Value: hist})
	}
	if d.Trace.Parent != "" {
		add(HeaderTraceParent, d.Trace.Parent)
		if d.Trace.State != "" {
			add(HeaderTraceState, d.Trace.State)
		}
	}
	return &kgo.Record{Topic: topic, Key: key, Value: d.Body, Headers: hs}
}

// MaxAttempt bounds the er-attempt header ParseDelivery accepts.
const MaxAttempt = 10000

// ParseDelivery decodes a record made by Delivery.Record. Required headers: delivery id,
// subscription id, account id, event id, event name, object id, attempt (1..MaxAttempt)
// and occurred-at; the value (Body) must be non-empty, and a non-nil key must equal the
// subscription id. A header given twice is an error; unknown headers are ignored. The
// error is a *DeliveryError naming the header. The trace headers are optional and never
// an error: one over its bound is dropped (tracing then starts a new trace), and so is a
// tracestate without a traceparent. Body shares r.Value.
func ParseDelivery(r *kgo.Record) (*Delivery, error) {
	d := &Delivery{Body: r.Value}
	var seen uint16
	for _, h := range r.Headers {
		if d.setTraceHeader(h.Key, h.Value) {
			continue
		}
		bit, ok := headerBit(h.Key)
		if !ok {
			continue
		}
		if seen&bit != 0 {
			return nil, &DeliveryError{h.Key, "given twice"}
		}
		seen |= bit
		if err := d.setHeader(h.Key, h.Value); err != nil {
			return nil, err
		}
	}
	if d.Trace.Parent == "" {
		d.Trace.State = "" // W3C: no tracestate without a traceparent
	}
	for _, k := range requiredHeaders {
		if bit, _ := headerBit(k); seen&bit == 0 {
			return nil, &DeliveryError{k, "missing"}
		}
	}
	if r.Key != nil && string(r.Key) != d.SubscriptionID {
		return nil, &DeliveryError{"key", "record key " + quote(string(r.Key)) + " is not the subscription id " + quote(d.SubscriptionID)}
	}
	if len(r.Value) == 0 {
		return nil, &DeliveryError{"value", "empty body"}
	}
	return d, nil
}

var requiredHeaders = []string{
	HeaderDeliveryID, HeaderSubscriptionID, HeaderAccountID, HeaderEventID,
	HeaderEventName, HeaderObjectID, HeaderAttempt, HeaderOccurredAt,
}

func headerBit(k string) (uint16, bool) {
	switch k {
	case HeaderDeliveryID:
		return 1 << 0, true
	case HeaderSubscriptionID:
		return 1 << 1, true
	case HeaderAccountID:
		return 1 << 2, true
	case HeaderEventID:
		return 1 << 3, true
	case HeaderEventName:
		return 1 << 4, true
	case HeaderObjectID:
		return 1 << 5, true
	case HeaderAttempt:
		return 1 << 6, true
	case HeaderFirstAttemptAt:
		return 1 << 7, true
	case HeaderOccurredAt:
		return 1 << 8, true
	case HeaderNotBefore:
		return 1 << 9, true
	case HeaderReason:
		return 1 << 10, true
	case HeaderHistory:
		return 1 << 11, true
	case HeaderRedrive:
		return 1 << 12, true
	}
	return 0, false
}

// setTraceHeader keeps a trace header within its bound and reports whether k was one.
func (d *Delivery) setTraceHeader(k string, v []byte) bool {
	switch k {
	case HeaderTraceParent:
		if len(v) <= maxTraceParentBytes {
			d.Trace.Parent = string(v)
		}
	case HeaderTraceState:
		if len(v) <= maxTraceStateBytes {
			d.Trace.State = string(v)
		}
	default:
		return false
	}
	return true
}

func (d *Delivery) setHeader(k string, v []byte) error {
	switch k {
	case HeaderAttempt:
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > MaxAttempt {
			return &DeliveryError{k, "want an integer in 1.." + strconv.Itoa(MaxAttempt) + ", got " + quote(string(v))}
		}
		d.Attempt = n
		return nil
	case HeaderOccurredAt, HeaderFirstAttemptAt, HeaderNotBefore:
		t, why := parseTime(string(v))
		if why != "" {
			return &DeliveryError{k, why}
		}
		switch k {
		case HeaderOccurredAt:
			d.OccurredAt = t
		case HeaderFirstAttemptAt:
			d.FirstAttemptAt = t
		default:
			d.NotBefore = t
		}
		return nil
	case HeaderHistory:
		if err := json.Unmarshal(v, &d.History); err != nil {
			return &DeliveryError{k, "not a JSON array of attempts: " + err.Error()}
		}
		for i := range d.History {
			a := &d.History[i]
			a.At = a.At.UTC()
			if y := a.At.Year(); y < 1 || y > 9999 {
				return &DeliveryError{k, "attempt " + strconv.Itoa(i) + ": time out of range"}
			}
		}
		if len(d.History) == 0 {
			d.History = nil
		}
		return nil
	}
	s := string(v)
	if k == HeaderReason || k == HeaderRedrive {
		if len(s) > MaxIDBytes {
			return &DeliveryError{k, "longer than " + strconv.Itoa(MaxIDBytes) + " bytes"}
		}
	} else if why := checkText(s); why != "" {
		return &DeliveryError{k, why}
	}
	switch k {
	case HeaderDeliveryID:
		d.ID = s
	case HeaderSubscriptionID:
		d.SubscriptionID = s
	case HeaderAccountID:
		d.AccountID = s
	case HeaderEventID:
		d.EventID = s
	case HeaderEventName:
		d.EventName = s
	case HeaderObjectID:
		d.ObjectID = s
	case HeaderReason:
		d.Reason = s
	case HeaderRedrive:
		d.Redrive = s
	}
	return nil
}
