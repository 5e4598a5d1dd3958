// Package devsamples produces events the way upstream services do, for dev mode's sample
// traffic, `eventrouter emit` and tests: TopicFor picks an object's ingest topic,
// Produce writes events and waits for their acknowledgements, SampleProducer sends a
// round of sample events at an interval.
package devsamples

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
)

// TopicFor picks the ingest topic an upstream service publishes an object's events to:
// the one topics.ingest_objects maps it to, else the first ingest topic without a
// mapping, else the first ingest topic (where the router reports it as wrong_topic).
func TopicFor(object string, t config.Topics) string {
	if topic := t.IngestTopicOf(object); topic != "" {
		return topic
	}
	return t.Ingest[0]
}

// Produce writes each event to its ingest topic (key = account id, as upstream
// services do) at up to rate events per second (0: as fast as possible), waits for every
// acknowledgement, and returns how many were acknowledged.
func Produce(ctx context.Context, cl *kgo.Client, evs []*events.Event, topicOf func(*events.Event) string, rate float64) (int, error) {
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
	}
	errc := make(chan error, len(evs))
	for _, e := range evs {
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		rec := &kgo.Record{Topic: topicOf(e), Key: []byte(e.AccountID), Value: e.Marshal()}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { errc <- err })
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	n := 0
	var first error
	for range evs {
		if err := <-errc; err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	if first != nil {
		return n, fmt.Errorf("produce: %d of %d failed, first: %w", len(evs)-n, len(evs), first)
	}
	return n, nil
}

// SampleProducer publishes one sample event of every catalogue name each Interval, for
// Account, cycling over a few object ids so per-object ordering is visible.
type SampleProducer struct {
	Brokers   []string
	Topics    config.Topics
	Catalogue []string
	Account   string
	Interval  time.Duration
	Log       *zap.Logger // nil: nothing is logged
}

// Run produces until ctx ends.
func (p *SampleProducer) Run(ctx context.Context) error {
	log := p.Log
	if log == nil {
		log = zap.NewNop()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		now := time.Now()
		evs := make([]*events.Event, 0, len(p.Catalogue))
		for _, name := range p.Catalogue {
			object, _, _ := strings.Cut(name, ".")
			id := fmt.Sprintf("%s_%04d", object, seq%5)
			evs = append(evs, events.Sample(name, p.Account, id, seq, now))
		}
		if _, err := Produce(ctx, cl, evs, func(e *events.Event) string { return TopicFor(e.Object, p.Topics) }, 0); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("sample events not produced", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
