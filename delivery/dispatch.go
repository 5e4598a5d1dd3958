package delivery

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// dispatch routes one fetched partition's records into the lanes. It runs on the polling
// goroutine and never waits for delivery work.
func (s *Sender) dispatch(p kgo.FetchTopicPartition) {
	tp := topicPartition{p.Topic, p.Partition}
	part := s.owned.get(tp)
	if part == nil || len(p.Records) == 0 {
		return
	}
	tierDelay, isTier := s.retries.tiers.delayOf(p.Topic)
	if isTier && s.retries.heads.parked(tp) {
		return // buffered before the rewind; refetched when the head is due
	}
	now := s.now()
	next := p.Records[len(p.Records)-1].Offset + 1
	var refused []*job // parked together after the loop (backpressure)
	for _, rec := range p.Records {
		d, err := events.ParseDelivery(rec)
		if err != nil {
			if part.track(rec) {
				s.work.goBackground(func(ctx context.Context) { s.invalidToDLQ(ctx, part, rec, err) })
			}
			continue
		}
		if isTier {
			if at := surfaceAt(d.NotBefore, rec.Timestamp, tierDelay); at.After(now) {
				s.retries.heads.park(tp, rec, at.Sub(now))
				next = rec.Offset
				break
			}
			if wait, ok := s.lanes.holdTier(part, d.SubscriptionID, rec.Offset, p.HighWatermark); ok {
				s.retries.heads.park(tp, rec, wait) // its subscription is still saturated
				next = rec.Offset
				break
			}
		}
		if !part.track(rec) {
			continue
		}
		if part.handedOff(rec.Offset) {
			part.finishUnstarted(rec.Offset)
			continue
		}
		j := &job{rec: rec, d: d, part: part}
		if !s.lanes.enqueue(j) {
			refused = append(refused, j)
		}
	}
	if len(refused) > 0 {
		s.work.goBackground(func(ctx context.Context) { s.backpressure(ctx, refused) })
	}
	s.metrics.lag(tp, p.HighWatermark-next, isTier)
}
