package replay

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// plan fills j.Partitions: per ingest partition, the first offset at or after From, and
// the end: the first offset at or after To, capped by the last stable offset listed
// now. The end is fixed here, once, so the replay is bounded even while producers
// keep writing, and a resumed job keeps the same bound.
func plan(ctx context.Context, cl *kgo.Client, j *Job, topics []string) error {
	adm := kadm.NewClient(cl)
	starts, err := adm.ListOffsetsAfterMilli(ctx, j.Spec.From.UnixMilli(), topics...)
	if err != nil {
		return fmt.Errorf("list offsets at from: %w", err)
	}
	tos, err := adm.ListOffsetsAfterMilli(ctx, j.Spec.To.UnixMilli(), topics...)
	if err != nil {
		return fmt.Errorf("list offsets at to: %w", err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	for _, t := range topics {
		if _, ok := stable[t]; !ok {
			return fmt.Errorf("ingest topic %q does not exist", t)
		}
	}
	var out []Partition
	var perr error
	stable.Each(func(end kadm.ListedOffset) {
		if end.Err != nil {
			perr = fmt.Errorf("end offset of %s/%d: %w", end.Topic, end.Partition, end.Err)
			return
		}
		start, ok1 := starts.Lookup(end.Topic, end.Partition)
		to, ok2 := tos.Lookup(end.Topic, end.Partition)
		if !ok1 || !ok2 || start.Err != nil || to.Err != nil {
			perr = fmt.Errorf("offsets of %s/%d by time: missing or failed", end.Topic, end.Partition)
			return
		}
		p := Partition{Topic: end.Topic, Partition: end.Partition, Start: start.Offset, End: min(to.Offset, end.Offset)}
		if p.Start < 0 || p.Start > p.End {
			p.Start = p.End // nothing in the window
		}
		p.Next = p.Start
		out = append(out, p)
	})
	if perr != nil {
		return perr
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Topic != out[b].Topic {
			return out[a].Topic < out[b].Topic
		}
		return out[a].Partition < out[b].Partition
	})
	j.Partitions = out
	return nil
}
