package delivery

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

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
