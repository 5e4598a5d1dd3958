package delivery

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
)

// Reasons added by the Kafka half of the sender (stable, like those in result.go).
const (
	// ReasonBackpressure: not attempted; the subscription already had the maximum number
	// of deliveries queued in this process, so this one was parked in the first retry
	// tier instead of pausing a partition shared with other subscriptions. No attempt is
	// consumed.
	ReasonBackpressure Reason = "backpressure"
	// ReasonInvalidRecord: the record on a delivery or retry topic is not a valid
	// delivery record; it is copied to the DLQ verbatim with the parse error.
	ReasonInvalidRecord Reason = "invalid_record"
)

// Headers the sender adds to DLQ copies of invalid records.
const (
	HeaderError  = "er-error"  // the parse error naming the bad header, or the last attempt's error
	HeaderSource = "er-source" // "<topic>/<partition>/<offset>" of the original record
)

// produceAcked produces rec and waits for the broker's acknowledgement, retrying
// failures with backoff until ctx ends. It returns nil once acknowledged; an error only
// when ctx ended first, in which case the caller must leave the source record unfinished.
func (s *Sender) produceAcked(ctx context.Context, rec *kgo.Record) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.cl.ProduceSync(ctx, rec).FirstErr()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.metrics.produceErrs.Inc()
		s.log.Warn("produce failed, retrying", zap.String("topic", rec.Topic), zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		rec.Partition, rec.Offset = 0, 0 // let the partitioner place it again
	}
}

// toDLQ writes d, with its full history and the reason, to the DLQ; true once acknowledged.
func (s *Sender) toDLQ(ctx context.Context, j *job, reason Reason) bool {
	d := *j.d
	d.Reason = string(reason)
	d.NotBefore = time.Time{}
	rec := d.Record(s.cfg.Topics.DLQ)
	if j.failure != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderError, Value: []byte(j.failure)})
	}
	if err := s.produceAcked(ctx, rec); err != nil {
		return false
	}
	s.metrics.dlq.WithLabelValues(string(reason)).Inc()
	s.log.Info("delivery to dlq", zap.String("delivery_id", d.ID), zap.String("subscription_id", d.SubscriptionID),
		zap.Int("attempt", d.Attempt), zap.String("reason", string(reason)), zap.String("error", j.failure))
	return true
}

// failureText is an attempt error as the DLQ's er-error header carries it: the same
// text the attempt log keeps (the client has already redacted the endpoint URL's query),
// at most maxErrorLog bytes of valid UTF-8.
func failureText(err error) string {
	if err == nil {
		return ""
	}
	return truncateUTF8(err.Error(), maxErrorLog)
}

// park hands d to the retry tier for delay with reason; true once acknowledged. The
// caller has already set d.Attempt to the number of the next attempt.
func (s *Sender) park(ctx context.Context, j *job, reason Reason, delay time.Duration) bool {
	d := *j.d
	d.Reason = string(reason)
	d.NotBefore = s.now().Add(delay)
	t := s.tiers.forDelay(delay)
	if reason == ReasonCircuitOpen {
		t = s.tiers.covering(delay) // wait out the cool-down in one write (see parkUntilProbe)
	}
	if err := s.produceAcked(ctx, d.Record(t.topic)); err != nil {
		return false
	}
	s.metrics.retried.WithLabelValues(t.topic, string(reason)).Inc()
	return true
}

// invalidToDLQ copies a record that is not a valid delivery to the DLQ verbatim, adding
// the reason, the parse error and where it came from. Runs on its own goroutine.
func (s *Sender) invalidToDLQ(part *partition, rec *kgo.Record, perr error) {
	defer s.bg.Done()
	if !part.begin() {
		return
	}
	s.metrics.invalid.Inc()
	s.log.Warn("invalid delivery record", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
		zap.Int64("offset", rec.Offset), zap.Error(perr))
	msg := perr.Error()
	if len(msg) > 512 {
		msg = msg[:512]
	}
	out := &kgo.Record{Topic: s.cfg.Topics.DLQ, Key: rec.Key, Value: rec.Value}
	out.Headers = append(out.Headers, rec.Headers...)
	out.Headers = append(out.Headers,
		kgo.RecordHeader{Key: events.HeaderReason, Value: []byte(ReasonInvalidRecord)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderSource, Value: []byte(rec.Topic + "/" +
			strconv.Itoa(int(rec.Partition)) + "/" + strconv.FormatInt(rec.Offset, 10))},
	)
	ok := s.produceAcked(s.workCtx, out) == nil
	if ok {
		s.metrics.dlq.WithLabelValues(string(ReasonInvalidRecord)).Inc()
	}
	part.end(rec.Offset, ok)
}

// backpressure parks a job its subscription lane refused (see lanes). Runs on its own
// goroutine; no attempt is consumed.
func (s *Sender) backpressure(j *job) {
	defer s.bg.Done()
	if !j.part.begin() {
		return
	}
	s.metrics.skipped.WithLabelValues(string(ReasonBackpressure)).Inc()
	ok := s.park(s.workCtx, j, ReasonBackpressure, s.tiers.first().delay)
	j.part.end(j.rec.Offset, ok)
}
