package delivery

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
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
