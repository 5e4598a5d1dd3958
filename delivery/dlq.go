package delivery

import (
	"context"
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

// toDLQ writes d, with its full history and the reason, to the DLQ; true once acknowledged.
func (s *Sender) toDLQ(ctx context.Context, j *job, reason Reason) bool {
	d := *j.d
	d.Reason = string(reason)
	d.NotBefore = time.Time{}
	rec := d.Record(s.cfg.DLQTopic)
	if j.failure != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: events.HeaderError, Value: []byte(j.failure)})
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
	return events.TruncateUTF8(err.Error(), maxErrorLog)
}

// invalidToDLQ quarantines a record that is not a valid delivery in the DLQ
// (events.Quarantine: verbatim, with the reason, the parse error and where it came
// from). It runs on its own goroutine (workScope).
func (s *Sender) invalidToDLQ(ctx context.Context, part *partition, rec *kgo.Record, perr error) {
	if !part.begin() {
		return
	}
	s.metrics.invalid.Inc()
	s.log.Warn("invalid delivery record", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
		zap.Int64("offset", rec.Offset), zap.Error(perr))
	out := events.Quarantine(rec, s.cfg.DLQTopic, string(ReasonInvalidRecord), perr.Error())
	ok := s.produceAcked(ctx, out) == nil
	if ok {
		s.metrics.dlq.WithLabelValues(string(ReasonInvalidRecord)).Inc()
	}
	part.end(rec.Offset, ok)
}
