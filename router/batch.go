package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Headers the router adds to a record on the invalid topic, besides events.HeaderReason.
const (
	HeaderError           = "er-error"            // the validation error's message
	HeaderSourceTopic     = "er-source-topic"     // ingest topic of the original record
	HeaderSourcePartition = "er-source-partition" // its partition, decimal
	HeaderSourceOffset    = "er-source-offset"    // its offset, decimal
	// HeaderValueDropped is set (to the original length, decimal) when the original
	// value was too large to forward; the record then has an empty value.
	HeaderValueDropped = "er-value-dropped"
)

// ReasonUnknown is the er-reason of a parse error that is not an *events.InvalidError.
const ReasonUnknown = "invalid"

// outcome is how one batch's transaction ended.
type outcome int

const (
	outcomeCommitted    outcome = iota
	outcomeRebalanced           // aborted by a rebalance; the session rewound
	outcomeProduceError         // aborted after a produce error; rewound, retry after a pause
)

// recordOverhead approximates a record's framing beyond key, value and header bytes.
const recordOverhead = 64

// process runs one polled batch in one transaction: Begin, route every record, End.
// A produce error aborts (the session rewinds to the committed offsets, and the same
// records come back on the next poll). Only an error from Begin or End is returned:
// franz-go documents those as unrecoverable.
//
// The batch finishes even if ctx is canceled meanwhile (bounded by the transaction
// timeout), so a clean shutdown commits what it has done instead of redoing it.
func (r *Router) process(ctx context.Context, sess *kgo.GroupTransactSession, fetches kgo.Fetches) (outcome, error) {
	start := time.Now()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.TransactionTimeout)
	defer cancel()
	if err := sess.Begin(); err != nil {
		return 0, fmt.Errorf("router: begin transaction: %w", err)
	}
	b := &batch{r: r, sess: sess, ctx: bctx, tally: newTally(), promise: kgo.AbortingFirstErrPromise(sess.Client())}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			r.metrics.lag(p.Topic, p.Partition, p.HighWatermark, p.Records[n-1].Offset)
		}
		for _, rec := range p.Records {
			b.route(rec)
		}
	})
	// Flush so every promise has run before we decide; End would flush too, but it
	// needs the decision first.
	flushErr := sess.Client().Flush(bctx)
	produceErr := b.promise.Err()
	if produceErr == nil {
		produceErr = flushErr
	}
	endStart := time.Now()
	committed, err := sess.End(bctx, kgo.TransactionEndTry(produceErr == nil))
	if err != nil {
		return 0, fmt.Errorf("router: end transaction: %w", err)
	}
	switch {
	case produceErr != nil:
		r.metrics.abortedTxn(abortProduceError)
		r.log.Warn("transaction aborted after a produce error; retrying from the committed offsets",
			zap.Int("records", fetches.NumRecords()), zap.Error(produceErr))
		return outcomeProduceError, nil
	case !committed:
		r.metrics.abortedTxn(abortRebalance)
		r.log.Info("transaction aborted by a rebalance; continuing from the committed offsets",
			zap.Int("records", fetches.NumRecords()))
		return outcomeRebalanced, nil
	}
	r.metrics.committed(b.tally, time.Since(start), time.Since(endStart))
	return outcomeCommitted, nil
}

// batch is the state of one transaction in progress.
type batch struct {
	r       *Router
	sess    *kgo.GroupTransactSession
	ctx     context.Context
	tally   *tally
	promise *kgo.FirstErrPromise
	subs    []*subscriptions.Subscription // reused across records
	recs    []*kgo.Record                 // reused across records
}

// route handles one ingest record: invalid → invalid topic; valid and matched → one
// delivery per subscription, all sharing one rendered body; valid and unmatched →
// counted only. Records are produced in the order they are routed, so the deliveries of
// one ingest partition keep its order within each deliveries partition.
func (b *batch) route(rec *kgo.Record) {
	r := b.r
	b.tally.consumed[rec.Topic]++
	ev, err := r.parser.Parse(rec.Value)
	if err != nil {
		reason, field := ReasonUnknown, ""
		var ie *events.InvalidError
		if errors.As(err, &ie) {
			reason, field = string(ie.Reason), ie.Field
		}
		r.log.Warn("invalid event", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
			zap.Int64("offset", rec.Offset), zap.String("reason", reason), zap.String("field", field), zap.Error(err))
		b.invalid(rec, reason, err.Error())
		return
	}
	b.subs = r.matcher.Match(ev, b.subs[:0])
	b.tally.fanouts = append(b.tally.fanouts, len(b.subs))
	if len(b.subs) == 0 {
		b.tally.unmatched++
		return
	}
	body := events.Render(ev)
	b.recs = b.recs[:0]
	for _, sub := range b.subs {
		d := events.Delivery{
			ID:             events.DeliveryID(ev.ID, sub.ID),
			SubscriptionID: sub.ID,
			AccountID:      ev.AccountID,
			EventID:        ev.ID,
			EventName:      ev.EventName,
			ObjectID:       ev.ObjectID,
			Attempt:        1,
			OccurredAt:     ev.OccurredAt,
			Body:           body,
		}
		out := d.Record(r.cfg.DeliveriesTopic)
		if n := recordSize(out); n > r.cfg.MaxRecordBytes {
			// All or nothing per event: a partial fan-out would be a silent drop.
			msg := fmt.Sprintf("rendered delivery is %d bytes, over the router's limit of %d", n, r.cfg.MaxRecordBytes)
			r.log.Warn("invalid event", zap.String("event_id", ev.ID), zap.String("topic", rec.Topic),
				zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset),
				zap.String("reason", string(events.ReasonTooLarge)), zap.String("error", msg))
			b.invalid(rec, string(events.ReasonTooLarge), msg)
			return
		}
		b.recs = append(b.recs, out)
	}
	for _, out := range b.recs {
		b.sess.Produce(b.ctx, out, b.promise.Promise())
	}
	b.tally.produced[ev.EventName] += len(b.recs)
	if ce := r.log.Check(zap.DebugLevel, "event routed"); ce != nil {
		ce.Write(zap.String("event_id", ev.ID), zap.Int("fanout", len(b.recs)),
			zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
	}
}

// invalid produces the original record (key, value, headers) to the invalid topic with
// the reason and its source appended as headers. A record too large to forward loses
// its value (HeaderValueDropped says how long it was), then its key and original headers.
func (b *batch) invalid(rec *kgo.Record, reason, msg string) {
	r := b.r
	b.tally.invalid[reason]++
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+6)
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: events.HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	out := &kgo.Record{Topic: r.cfg.InvalidTopic, Key: rec.Key, Value: rec.Value, Headers: hs}
	if recordSize(out) > r.cfg.MaxRecordBytes {
		// Too large to forward: keep the evidence that fits, never block the partition.
		out.Value = nil
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: HeaderValueDropped, Value: strconv.AppendInt(nil, int64(len(rec.Value)), 10)})
		if recordSize(out) > r.cfg.MaxRecordBytes {
			out.Key, out.Headers = nil, out.Headers[len(rec.Headers):]
		}
	}
	b.sess.Produce(b.ctx, out, b.promise.Promise())
}

func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value) + recordOverhead
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}
