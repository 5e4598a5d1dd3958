package delivery

import (
	"cmp"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// produceAcked produces rec and waits for the broker's acknowledgement, retrying
// failures with backoff until ctx ends. It returns nil once acknowledged; an error only
// when ctx ended first, in which case the caller must leave the source record unfinished.
func (s *Sender) produceAcked(ctx context.Context, rec *kgo.Record) error {
	return s.produceAllAcked(ctx, []*kgo.Record{rec})[0]
}

// produceAllAcked produces recs in one batch and waits for the broker's
// acknowledgements, producing again, with backoff, the records that failed, until every
// one is acknowledged or ctx ends. It returns one error per record: nil once that record
// is acknowledged, ctx's error for those still unacknowledged when ctx ended (the caller
// leaves their source records unfinished).
func (s *Sender) produceAllAcked(ctx context.Context, recs []*kgo.Record) []error {
	errs := make([]error, len(recs))
	pending := make([]int, len(recs)) // indexes of recs not yet acknowledged
	for i := range recs {
		pending[i] = i
	}
	backoff := 100 * time.Millisecond
	for {
		batch := make([]*kgo.Record, len(pending))
		for k, i := range pending {
			batch[k] = recs[i]
		}
		results := s.cl.ProduceSync(ctx, batch...)
		failed := pending[:0]
		var firstErr error
		for k, r := range results {
			if r.Err != nil {
				failed = append(failed, pending[k])
				firstErr = cmp.Or(firstErr, r.Err)
			}
		}
		if len(failed) == 0 {
			return errs
		}
		pending = failed
		if ctx.Err() == nil {
			s.metrics.produceErrs.Inc()
			s.log.Warn("produce failed, retrying", zap.String("topic", batch[0].Topic), zap.Int("records", len(pending)), zap.Error(firstErr))
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		}
		if ctx.Err() != nil {
			for _, i := range pending {
				errs[i] = ctx.Err()
			}
			return errs
		}
		backoff = min(2*backoff, 5*time.Second)
		for _, i := range pending {
			recs[i].Partition, recs[i].Offset = 0, 0 // let the partitioner place it again
		}
	}
}
