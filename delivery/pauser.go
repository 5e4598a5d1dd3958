package delivery

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pauser holds tier partitions whose head is not yet due: fetching is paused and the
// fetch position rewound to the head, and a timer resumes the partition when the head
// is due. Pause and rewind happen on the polling goroutine (while rebalances are
// blocked); resume may happen from a timer.
type pauser struct {
	cl   *kgo.Client
	gate *fetchGate // shared with flow control (flow.go)

	mu     sync.Mutex
	timers map[topicPartition]*time.Timer
}

func newPauser(cl *kgo.Client, gate *fetchGate) *pauser {
	return &pauser{cl: cl, gate: gate, timers: map[topicPartition]*time.Timer{}}
}

// park pauses tp, rewinds it to head (the not-yet-due record) and resumes it after wait.
func (p *pauser) park(tp topicPartition, head *kgo.Record, wait time.Duration) {
	p.gate.holdTier(tp)
	p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{
		tp.topic: {tp.partition: {Epoch: head.LeaderEpoch, Offset: head.Offset}},
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.timers[tp]; ok {
		old.Stop()
	}
	p.timers[tp] = time.AfterFunc(wait, func() { p.resume(tp) })
}

// resume lets tp be fetched again (no-op if it is no longer parked).
func (p *pauser) resume(tp topicPartition) {
	p.mu.Lock()
	t, ok := p.timers[tp]
	if ok {
		t.Stop()
		delete(p.timers, tp)
	}
	p.mu.Unlock()
	if ok {
		p.gate.releaseTier(tp)
	}
}

// parked reports whether tp is paused waiting for its head.
func (p *pauser) parked(tp topicPartition) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.timers[tp]
	return ok
}

// stop cancels every timer (shutdown).
func (p *pauser) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tp, t := range p.timers {
		t.Stop()
		delete(p.timers, tp)
	}
}
