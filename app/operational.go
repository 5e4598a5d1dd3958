package app

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/operational"
)

// operationalAPI serves GET /v1/operational-events from topics.operational.
type operationalAPI struct {
	kafkaOpts []kgo.Opt
	topic     string
}

var _ api.OperationalEvents = operationalAPI{}

// Recent reads the topic from q.Since to its current end and returns the newest
// q.Limit matching events, newest first (by occurred_at, ties by id).
func (o operationalAPI) Recent(ctx context.Context, q api.OperationalQuery) ([]*events.OpEvent, error) {
	var kept []*events.OpEvent
	newestFirst := func(a, b *events.OpEvent) int {
		if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	}
	trim := func() {
		slices.SortFunc(kept, newestFirst)
		kept = kept[:min(len(kept), q.Limit)]
	}
	_, err := operational.Tail(ctx, operational.TailOptions{
		KafkaOpts: o.kafkaOpts, Topic: o.topic, Since: q.Since,
		AccountID: q.AccountID, SubscriptionID: q.SubscriptionID, Types: q.Types,
	}, func(e *events.OpEvent) error {
		kept = append(kept, e)
		if len(kept) >= 2*q.Limit { // bounded memory, however long the window
			trim()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	trim()
	return kept, nil
}
