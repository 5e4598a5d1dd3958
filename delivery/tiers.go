package delivery

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/topics"
)

// tierSlack is how far past its tier's fixed delay a record's due time may lie and still
// be parked in that tier. It covers the schedule's ±20 % jitter; a wanted delay further
// beyond every tier (a long Retry-After) hops: it is parked in the largest tier that
// fits and re-parked when it surfaces, so no record holds a tier's head for long.
const tierSlack = 0.25

// tier is one retry topic with its fixed delay.
type tier struct {
	topic string
	delay time.Duration
}

// tiers maps wanted retry delays to retry topics. Each tier topic has one fixed delay,
// so records arrive in it in (nearly) due order and only a partition's head matters.
//
// Mapping: a delay w goes to the largest tier whose delay D ≤ w·(1+tierSlack); when w is
// below every tier it goes to the smallest one (it waits that tier's delay: a retry is
// never early, and at most D−w late). The record carries its true due time in the
// er-not-before header. A tier partition's head becomes actionable at
// min(not-before, timestamp + D·(1+tierSlack)): if not-before has passed it is
// delivered; otherwise it is re-parked for the remaining time (no attempt consumed).
type tiers struct {
	list    []tier // ascending delay
	byTopic map[string]time.Duration
}

func newTiers(prefix string, schedule []time.Duration) tiers {
	t := tiers{byTopic: map[string]time.Duration{}}
	for _, d := range schedule {
		if d <= 0 {
			continue
		}
		name := topics.RetryTopic(prefix, d)
		if _, dup := t.byTopic[name]; dup {
			continue
		}
		t.byTopic[name] = d
		t.list = append(t.list, tier{topic: name, delay: d})
	}
	slices.SortFunc(t.list, func(a, b tier) int { return int(a.delay - b.delay) })
	return t
}

// topics lists every tier topic, shortest delay first.
func (t tiers) topics() []string {
	out := make([]string, len(t.list))
	for i, x := range t.list {
		out[i] = x.topic
	}
	return out
}

// forDelay returns the tier a delivery wanting delay w is parked in.
func (t tiers) forDelay(w time.Duration) tier {
	best := t.list[0]
	limit := time.Duration(float64(w) * (1 + tierSlack))
	for _, x := range t.list {
		if x.delay <= limit {
			best = x
		}
	}
	return best
}

// covering returns the shortest tier that holds a delivery for w without a hop (its
// delay plus slack reaches w), or the longest tier when none does. Used for waits that
// do not depend on the retry schedule (an open circuit's cool-down): one write per wait,
// at the price of possibly queueing behind that tier's earlier records.
func (t tiers) covering(w time.Duration) tier {
	for _, x := range t.list {
		if time.Duration(float64(x.delay)*(1+tierSlack)) >= w {
			return x
		}
	}
	return t.list[len(t.list)-1]
}

// first is the shortest tier (backpressure, open circuits when no cool-down fits).
func (t tiers) first() tier { return t.list[0] }

// delayOf returns the fixed delay of a tier topic, or false if topic is not a tier.
func (t tiers) delayOf(topic string) (time.Duration, bool) {
	d, ok := t.byTopic[topic]
	return d, ok
}

// surfaceAt is when a tier record becomes actionable: its due time, bounded by the tier's
// own delay plus slack after it was produced (see tiers).
func surfaceAt(notBefore, produced time.Time, tierDelay time.Duration) time.Time {
	bound := produced.Add(time.Duration(float64(tierDelay) * (1 + tierSlack)))
	if notBefore.IsZero() || bound.Before(notBefore) {
		return bound
	}
	return notBefore
}

// pauser holds tier partitions whose head is not yet due: fetching is paused and the
// fetch position rewound to the head, and a timer resumes the partition when the head
// is due. Pause and rewind happen on the polling goroutine (while rebalances are
// blocked); resume may happen from a timer.
type pauser struct {
	cl *kgo.Client

	mu     sync.Mutex
	timers map[topicPartition]*time.Timer
}

func newPauser(cl *kgo.Client) *pauser {
	return &pauser{cl: cl, timers: map[topicPartition]*time.Timer{}}
}

// park pauses tp, rewinds it to head (the not-yet-due record) and resumes it after wait.
func (p *pauser) park(tp topicPartition, head *kgo.Record, wait time.Duration) {
	p.cl.PauseFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
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
		p.cl.ResumeFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
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
