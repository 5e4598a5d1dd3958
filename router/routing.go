package router

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// ReasonUnknown is the er-reason of a parse error that is not an *events.InvalidError.
const ReasonUnknown = "invalid"

// recordOverhead approximates a record's framing beyond key, value and header bytes.
const recordOverhead = 64

// routed is the outcome of routing one ingest record: the records to produce for it,
// appended to a shared slice (see router.route), and what to count when its
// transaction commits.
type routed struct {
	// end is the index just past this record's output in the shared output slice; its
	// output starts at the previous routed's end.
	end int
	// eventName is set for a valid event: its fanout is observed, and its deliveries
	// are counted in deliveries_produced_total unless reason is set.
	eventName string
	// reason is set when the record went to the invalid topic (a valid event too,
	// when a delivery would be over the record size limit).
	reason string
	// fanout is the number of matched subscriptions of a valid event.
	fanout int
	// wrongTopic is set for a valid event on another object's ingest topic, whether it
	// went to the invalid topic or was delivered (Config.WrongTopic).
	wrongTopic bool
	// eventID and accountID are set for a valid event (for its route span).
	eventID, accountID string
}

// route handles one ingest record and appends the records to produce for it to out:
// invalid → one record for the invalid topic; valid and matched → one delivery per
// subscription, all sharing one rendered body except those whose payload is shaped
// (thin or redacted), which share one body per distinct shape; valid and unmatched →
// nothing. subs is scratch space, returned for reuse.
//
// route does no I/O and touches no batch state, so workers run it concurrently; the
// batch produces its output in ingest order afterwards. With tracing on, it runs in a
// route span whose context every delivery carries (see tracing.go).
func (r *Router) route(rec *kgo.Record, out []*kgo.Record, subs []*subscriptions.Subscription) (routed, []*kgo.Record, []*subscriptions.Subscription) {
	if r.tracer == nil {
		return r.routeRecord(rec, out, subs, events.TraceContext{})
	}
	return r.routeTraced(rec, out, subs)
}

// routeRecord is route; each delivery carries trace (zero: none).
func (r *Router) routeRecord(rec *kgo.Record, out []*kgo.Record, subs []*subscriptions.Subscription, trace events.TraceContext) (routed, []*kgo.Record, []*subscriptions.Subscription) {
	ev, err := r.parser.Parse(rec.Value)
	if err != nil {
		reason, field := ReasonUnknown, ""
		var ie *events.InvalidError
		if errors.As(err, &ie) {
			reason, field = string(ie.Reason), ie.Field
		}
		r.log.Warn("invalid event", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
			zap.Int64("offset", rec.Offset), zap.String("reason", reason), zap.String("field", field), zap.Error(err))
		out = append(out, r.invalidRecord(rec, reason, err.Error()))
		return routed{end: len(out), reason: reason}, out, subs
	}
	wrong := r.wrongTopic(rec, ev)
	if wrong && r.cfg.WrongTopic == WrongTopicInvalid {
		out = append(out, r.invalidRecord(rec, string(events.ReasonWrongTopic), r.wrongTopicMessage(rec, ev)))
		return routed{end: len(out), reason: string(events.ReasonWrongTopic), wrongTopic: true}, out, subs
	}
	subs = r.matcher.Match(ev, subs[:0])
	if len(subs) == 0 {
		return routed{end: len(out), eventName: ev.EventName, wrongTopic: wrong, eventID: ev.ID, accountID: ev.AccountID}, out, subs
	}
	body := events.Render(ev)
	fo := events.NewFanout(ev, r.cfg.DeliveriesTopic)
	fo.SetTrace(trace)
	var shaped shapedBodies
	start := len(out)
	for _, sub := range subs {
		subBody := body
		if shape := sub.Shape(); !shape.IsFull() {
			// Shaped per subscription (thin, redacted), before signing. The parser only
			// accepts an object as data, so this fails only on a bug: quarantine the
			// whole event rather than send a partial fan-out.
			b, err := shaped.body(ev, shape)
			if err != nil {
				clear(out[start:])
				out = append(out[:start], r.invalidRecord(rec, string(events.ReasonInvalidField), err.Error()))
				return routed{end: len(out), eventName: ev.EventName, fanout: len(subs), reason: string(events.ReasonInvalidField)}, out, subs
			}
			subBody = b
		}
		o := fo.Record(sub.ID, subBody)
		if n := recordSize(o); n > r.cfg.MaxRecordBytes {
			// All or nothing per event: a partial fan-out would be a silent drop.
			msg := fmt.Sprintf("rendered delivery is %d bytes, over the router's limit of %d", n, r.cfg.MaxRecordBytes)
			r.log.Warn("invalid event", zap.String("event_id", ev.ID), zap.String("topic", rec.Topic),
				zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset),
				zap.String("reason", string(events.ReasonTooLarge)), zap.String("error", msg))
			clear(out[start:])
			out = append(out[:start], r.invalidRecord(rec, string(events.ReasonTooLarge), msg))
			return routed{end: len(out), eventName: ev.EventName, fanout: len(subs), reason: string(events.ReasonTooLarge), wrongTopic: wrong}, out, subs
		}
		out = append(out, o)
	}
	if ce := r.log.Check(zap.DebugLevel, "event routed"); ce != nil {
		ce.Write(zap.String("event_id", ev.ID), zap.Int("fanout", len(subs)),
			zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
	}
	return routed{end: len(out), eventName: ev.EventName, fanout: len(subs), wrongTopic: wrong, eventID: ev.ID, accountID: ev.AccountID}, out, subs
}

// wrongTopic reports whether a valid event is on an ingest topic that carries other
// objects (Config.TopicObjects), and logs it: a producer's bug, worth a WARN each time.
func (r *Router) wrongTopic(rec *kgo.Record, ev *events.Event) bool {
	objs, mapped := r.cfg.TopicObjects[rec.Topic]
	if !mapped || slices.Contains(objs, ev.Object) {
		return false
	}
	r.log.Warn("event on the wrong ingest topic", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
		zap.Int64("offset", rec.Offset), zap.String("event_id", ev.ID), zap.String("event_name", ev.EventName),
		zap.String("action", r.cfg.WrongTopic))
	return true
}

// wrongTopicMessage says what was wrong and where the event belongs (er-error).
func (r *Router) wrongTopicMessage(rec *kgo.Record, ev *events.Event) string {
	msg := fmt.Sprintf("%s event on %s, which carries %s events", ev.EventName, rec.Topic,
		strings.Join(r.cfg.TopicObjects[rec.Topic], ", "))
	for _, t := range r.cfg.IngestTopics {
		if slices.Contains(r.cfg.TopicObjects[t], ev.Object) {
			return msg + "; produce it to " + t
		}
	}
	return msg
}

// invalidRecord returns the original record (key, value, headers) for the invalid topic
// with the reason, the error and its source appended as headers (events.Quarantine). A
// record too large to forward loses its value (events.HeaderValueDropped says how long
// it was), then its key and original headers.
func (r *Router) invalidRecord(rec *kgo.Record, reason, msg string) *kgo.Record {
	out := events.Quarantine(rec, r.cfg.InvalidTopic, reason, msg)
	if recordSize(out) > r.cfg.MaxRecordBytes {
		// Too large to forward: keep the evidence that fits, never block the partition.
		out.Value = nil
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: events.HeaderValueDropped, Value: strconv.AppendInt(nil, int64(len(rec.Value)), 10)})
		if recordSize(out) > r.cfg.MaxRecordBytes {
			out.Key, out.Headers = nil, out.Headers[len(rec.Headers):]
		}
	}
	return out
}

func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value) + recordOverhead
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}
