package delivery

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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

// partition is the sender's state for one owned partition: its offset tracker and the
// number of records whose work has started but not ended. It is idle when every
// tracked record is finished and nothing is started. It lives from assignment to
// revocation; a record's late completion after revocation touches only its own,
// closed partition and is ignored, so it can never move a later owner's commit.
type partition struct {
	tp topicPartition

	mu        sync.Mutex
	tracker   *offsetTracker
	started   int  // records being worked on now (sending, or producing to a tier/DLQ)
	closed    bool // revoked or lost: nothing more is tracked, finished or committed
	idle      chan struct{}
	committed int64 // last offset committed for it; -1: none
	// doneAhead holds offsets a previous owner finished beyond its commit (Handoff):
	// they are marked finished on arrival instead of being sent again.
	doneAhead map[int64]struct{}
}

func newPartition(tp topicPartition) *partition {
	return &partition{tp: tp, tracker: newOffsetTracker(), committed: -1}
}

// track starts tracking a dispatched record; false means do not dispatch it (closed
// partition, or a re-fetched offset).
func (p *partition) track(r *kgo.Record) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.tracker.add(r.Offset, r.LeaderEpoch)
}

// handedOff reports whether the previous owner finished offset already (see Handoff).
func (p *partition) handedOff(offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.doneAhead[offset]; ok {
		delete(p.doneAhead, offset)
		return true
	}
	return false
}

// finishedAhead lists the offsets finished beyond the commit point (for Handoff).
func (p *partition) finishedAhead() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tracker.finishedAhead()
}

// waitStarted waits until no work of this partition is running, or the timeout passes.
func (p *partition) waitStarted(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		n := p.started
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// begin notes that work on a tracked record started; it returns false if the partition
// was closed meanwhile (the record is abandoned: not worked on, not committed).
func (p *partition) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.started++
	return true
}

// end closes a begin: finished reports whether the record is done for good (delivered or
// handed off with an acknowledged produce); if not, it stays uncommitted for the next
// owner or a restart.
func (p *partition) end(offset int64, finished bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started--
	if finished && !p.closed {
		p.tracker.finish(offset)
	}
	p.signalIdle()
}

// signalIdle wakes drain when the partition has nothing left to do. p.mu held.
func (p *partition) signalIdle() {
	if p.started == 0 && p.tracker.pending() == 0 && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
}

// finishUnstarted finishes a tracked record that needed no work (e.g. skipped).
func (p *partition) finishUnstarted(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.tracker.finish(offset)
	}
	p.signalIdle()
}

// drain waits until every tracked record of this partition is finished and no work is
// started, or the timeout passes; it reports whether the partition went idle. Queued
// records keep flowing through the lanes meanwhile, so a graceful hand-over finishes
// what it fetched instead of leaving it to the next owner as duplicates.
func (p *partition) drain(timeout time.Duration) bool {
	p.mu.Lock()
	if p.started == 0 && p.tracker.pending() == 0 {
		p.mu.Unlock()
		return true
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	idle := p.idle
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// commitPoint returns the offset to commit if it moved since the last commit.
func (p *partition) commitPoint() (kgo.EpochOffset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return kgo.EpochOffset{}, false
	}
	eo, ok := p.tracker.committable()
	if !ok || eo.Offset <= p.committed {
		return kgo.EpochOffset{}, false
	}
	return eo, true
}

// committedTo records a successful commit.
func (p *partition) committedTo(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if offset > p.committed {
		p.committed = offset
	}
}

// close stops tracking: later completions are ignored.
func (p *partition) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}

// assigned starts tracking newly assigned partitions (before their fetches begin).
func (s *Sender) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	for topic, ps := range assigned {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			if s.parts[tp] == nil {
				part := newPartition(tp)
				part.doneAhead = s.loadHandoff(tp)
				s.parts[tp] = part
			}
		}
	}
	s.member.Assigned(assigned)
	s.log.Info("partitions assigned", zap.Any("partitions", assigned))
}

// revoked finishes or abandons the revoked partitions' work, then commits what finished.
func (s *Sender) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.release(ctx, revoked, true)
}

// lost abandons the lost partitions' work without committing (the group moved on).
func (s *Sender) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.release(ctx, lost, false)
}

// release hands partitions back. On revocation their queued work is abandoned at once
// (never sent; the next owner sends it), work already running gets DrainTimeout to end,
// the finished prefix is committed, and the finished offsets beyond it are saved as a
// Handoff so the next owner skips them rather than sending them again. The partitions are
// then closed so late completions cannot touch them. On loss nothing is waited for,
// committed or handed off.
func (s *Sender) release(ctx context.Context, tps map[string][]int32, commit bool) {
	s.member.Released(tps)
	gone := map[*partition]bool{}
	s.partsMu.Lock()
	for topic, ps := range tps {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			if part := s.parts[tp]; part != nil {
				gone[part] = true
				delete(s.parts, tp)
			}
			_, isTier := s.tiers.delayOf(topic)
			s.metrics.lag(tp, 0, isTier)
		}
	}
	s.partsMu.Unlock()
	if len(gone) == 0 {
		return
	}
	list := make([]*partition, 0, len(gone))
	for p := range gone {
		list = append(list, p)
	}
	// Queued work is abandoned at once (the next owner sends it); running work gets
	// DrainTimeout to end, so the rebalance is not held up by a backlog.
	abandoned := s.lanes.abandon(func(p *partition) bool { return gone[p] })
	stuck := 0
	if commit {
		deadline := time.Now().Add(s.cfg.DrainTimeout)
		for _, p := range list {
			if !p.waitStarted(time.Until(deadline)) {
				stuck++
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s.commit(cctx, true, list...)
		s.saveHandoffs(cctx, list)
		cancel()
	}
	for _, p := range list {
		p.close()
	}
	s.log.Info("partitions released", zap.Any("partitions", tps), zap.Bool("committed", commit),
		zap.Int("abandoned_queued", len(abandoned)), zap.Int("partitions_still_busy", stuck))
}

// loadHandoff returns the offsets a previous owner finished beyond its commit, if any.
// Failure only costs duplicates (same webhook-id), so it is logged, not fatal.
func (s *Sender) loadHandoff(tp topicPartition) map[int64]struct{} {
	if s.handoff == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	offs, err := s.handoff.Load(ctx, s.cfg.Delivery.Group, tp.topic, tp.partition)
	if err != nil {
		s.log.Warn("rebalance hand-off not loaded: finished deliveries may be sent again",
			zap.String("topic", tp.topic), zap.Int32("partition", tp.partition), zap.Error(err))
		return nil
	}
	if len(offs) == 0 {
		return nil
	}
	m := make(map[int64]struct{}, len(offs))
	for _, o := range offs {
		m[o] = struct{}{}
	}
	s.log.Info("rebalance hand-off loaded", zap.String("topic", tp.topic), zap.Int32("partition", tp.partition), zap.Int("finished_ahead", len(offs)))
	return m
}

// saveHandoffs records each released partition's finished work beyond its commit point.
func (s *Sender) saveHandoffs(ctx context.Context, parts []*partition) {
	if s.handoff == nil {
		return
	}
	for _, p := range parts {
		offs := p.finishedAhead()
		if err := s.handoff.Save(ctx, s.cfg.Delivery.Group, p.tp.topic, p.tp.partition, offs); err != nil {
			s.log.Warn("rebalance hand-off not saved: the next owner may send finished deliveries again",
				zap.String("topic", p.tp.topic), zap.Int32("partition", p.tp.partition), zap.Int("finished_ahead", len(offs)), zap.Error(err))
		}
	}
}
