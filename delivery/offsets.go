package delivery

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// topicPartition names one partition of one topic.
type topicPartition struct {
	topic     string
	partition int32
}

// offsetTracker follows one partition's records from dispatch to finish and says how far
// the group may commit: up to (not including) the lowest offset not yet finished. A
// record is finished when it was delivered (2xx) or durably handed to a retry tier or
// the DLQ (produce acknowledged). Records finish in any order; the commit point only
// moves over a contiguous finished prefix, so it never passes unfinished work.
//
// Offsets must be added in increasing order (the order a partition is fetched in).
// Not safe for concurrent use; partition serialises access.
type offsetTracker struct {
	entries []trackedOffset // ascending by offset; a finished prefix is trimmed
	next    int64           // offset to commit once every entry is finished; -1: nothing seen
	epoch   int32           // leader epoch of the record at next-1
	last    int64           // highest offset ever added; -1: none
	open    int             // entries not finished
}

type trackedOffset struct {
	offset   int64
	epoch    int32
	finished bool
}

func newOffsetTracker() *offsetTracker { return &offsetTracker{next: -1, last: -1, epoch: -1} }

// add starts tracking offset. It returns false (and tracks nothing) when offset is not
// above every offset added before: a re-fetched record that is already tracked or done.
func (t *offsetTracker) add(offset int64, epoch int32) bool {
	if offset <= t.last {
		return false
	}
	t.last = offset
	t.entries = append(t.entries, trackedOffset{offset: offset, epoch: epoch})
	t.open++
	return true
}

// finish marks offset finished; unknown offsets (already trimmed, never added) are ignored.
func (t *offsetTracker) finish(offset int64) {
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].offset >= offset })
	if i == len(t.entries) || t.entries[i].offset != offset || t.entries[i].finished {
		return
	}
	t.entries[i].finished = true
	t.open--
	n := 0
	for n < len(t.entries) && t.entries[n].finished {
		n++
	}
	if n == 0 {
		return
	}
	t.next, t.epoch = t.entries[n-1].offset+1, t.entries[n-1].epoch
	// Trim the finished prefix; copy down so the backing array does not grow forever.
	t.entries = append(t.entries[:0], t.entries[n:]...)
}

// committable returns the offset the group may commit (the next record to consume) and
// whether any progress exists at all.
func (t *offsetTracker) committable() (kgo.EpochOffset, bool) {
	if t.next < 0 {
		return kgo.EpochOffset{}, false
	}
	return kgo.EpochOffset{Epoch: t.epoch, Offset: t.next}, true
}

// pending is the number of tracked records not yet finished.
func (t *offsetTracker) pending() int { return t.open }

// finishedAhead lists the finished offsets beyond the commit point: work a next owner
// would otherwise repeat.
func (t *offsetTracker) finishedAhead() []int64 {
	var out []int64
	for _, e := range t.entries {
		if e.finished {
			out = append(out, e.offset)
		}
	}
	return out
}

// owned is the set of partitions this member owns, with the pacing of their commits
// and the store their hand-offs go to (see rebalance.go).
type owned struct {
	group   string
	handoff Handoff // nil: no hand-off

	mu    sync.Mutex
	parts map[topicPartition]*partition

	commitMu   sync.Mutex
	lastCommit time.Time
}

func newOwned(group string, h Handoff) *owned {
	return &owned{group: group, handoff: h, parts: map[topicPartition]*partition{}}
}

// get returns the owned partition tp, or nil.
func (o *owned) get(tp topicPartition) *partition {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.parts[tp]
}

// list returns every owned partition.
func (o *owned) list() []*partition {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*partition, 0, len(o.parts))
	for _, p := range o.parts {
		out = append(out, p)
	}
	return out
}

// closeAll closes and forgets every owned partition (shutdown).
func (o *owned) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for tp, p := range o.parts {
		p.close()
		delete(o.parts, tp)
	}
}

// commit commits every owned partition's finished prefix (or only the given ones), at
// most once per CommitInterval unless sync (revocation, shutdown).
func (s *Sender) commit(ctx context.Context, sync bool, only ...*partition) {
	o := s.owned
	o.commitMu.Lock()
	defer o.commitMu.Unlock()
	if !sync && time.Since(o.lastCommit) < s.cfg.CommitInterval {
		return
	}
	o.lastCommit = time.Now()
	parts := only
	if len(only) == 0 {
		parts = o.list()
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	byTP := map[topicPartition]*partition{}
	for _, p := range parts {
		eo, ok := p.commitPoint()
		if !ok {
			continue
		}
		if offsets[p.tp.topic] == nil {
			offsets[p.tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.tp.topic][p.tp.partition] = eo
		byTP[p.tp] = p
	}
	if len(offsets) == 0 {
		return
	}
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			s.metrics.commitErrs.Inc()
			s.log.Warn("offset commit failed", zap.Error(err))
			return
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				p := byTP[topicPartition{t.Topic, pr.Partition}]
				if p == nil {
					continue
				}
				if pr.ErrorCode != 0 {
					s.metrics.commitErrs.Inc()
					continue
				}
				p.committedTo(offsets[t.Topic][pr.Partition].Offset)
			}
		}
	}
	if sync {
		s.cl.CommitOffsetsSync(ctx, offsets, onDone)
	} else {
		s.cl.CommitOffsets(ctx, offsets, onDone)
	}
}
