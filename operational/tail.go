package operational

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// TailOptions selects what Tail reads from the operational topic.
type TailOptions struct {
	KafkaOpts []kgo.Opt
	Topic     string
	// Since is the first record time read (by broker timestamp); zero: the oldest kept.
	Since time.Time
	// AccountID, SubscriptionID and Types (empty: any) filter the events.
	AccountID      string
	SubscriptionID string
	Types          []string
	// Follow keeps reading new events until ctx ends; otherwise Tail stops at the end
	// of the topic as it was when it started.
	Follow bool
}

// TailReport counts what Tail read.
type TailReport struct {
	Read    int // records read
	Matched int // events passed to fn
	Invalid int // records that are not operational events (skipped)
}

// Tail reads operational events in each partition's order and calls fn for each that
// matches the filters, until the end (or ctx, when following) or fn's error.
func Tail(ctx context.Context, o TailOptions, fn func(*events.OpEvent) error) (TailReport, error) {
	var rep TailReport
	if o.Topic == "" {
		return rep, errors.New("operational: topics.operational is required")
	}
	admCl, err := kgo.NewClient(o.KafkaOpts...)
	if err != nil {
		return rep, fmt.Errorf("operational: kafka client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	defer adm.Close()
	ends, err := adm.ListEndOffsets(ctx, o.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("operational: %s end offsets: %w", o.Topic, err)
	}
	var starts kadm.ListedOffsets
	if o.Since.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, o.Topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, o.Since.UnixMilli(), o.Topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("operational: %s start offsets: %w", o.Topic, err)
	}
	from := map[int32]kgo.Offset{}
	left := map[int32]int64{} // partition → end offset still to reach
	end := map[int32]int64{}  // partition → end offset when Tail started
	ends.Each(func(e kadm.ListedOffset) {
		end[e.Partition] = e.Offset
		start := e.Offset
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Offset >= 0 {
			start = min(s.Offset, e.Offset)
		}
		if start < e.Offset || o.Follow {
			from[e.Partition] = kgo.NewOffset().At(start)
		}
		if start < e.Offset {
			left[e.Partition] = e.Offset
		}
	})
	if len(left) == 0 && !o.Follow {
		return rep, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(o.KafkaOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: from}),
		kgo.FetchMaxWait(250*time.Millisecond))...)
	if err != nil {
		return rep, fmt.Errorf("operational: kafka client: %w", err)
	}
	defer cl.Close()
	for o.Follow || len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			if o.Follow {
				return rep, nil
			}
			return rep, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return rep, fmt.Errorf("operational: read %s: %w", o.Topic, ferr)
		}
		for _, r := range fs.Records() {
			if e, ok := left[r.Partition]; ok && r.Offset+1 >= e {
				delete(left, r.Partition)
			}
			if !o.Follow && r.Offset >= end[r.Partition] {
				continue // arrived after Tail started
			}
			rep.Read++
			e, err := events.ParseOpEvent(r.Value)
			if err != nil {
				rep.Invalid++
				continue
			}
			if !o.matches(e) {
				continue
			}
			rep.Matched++
			if err := fn(e); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func (o TailOptions) matches(e *events.OpEvent) bool {
	return (o.AccountID == "" || e.AccountID == o.AccountID) &&
		(o.SubscriptionID == "" || e.SubscriptionID == o.SubscriptionID) &&
		(len(o.Types) == 0 || slices.Contains(o.Types, e.Type))
}
