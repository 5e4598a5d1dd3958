package delivery

import (
	"context"
	"slices"
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

// retries is where deliveries wait between attempts: the retry schedule (policy), the
// tier topics it maps onto, and the tier partitions paused until their head is due
// (heads, pauser.go).
type retries struct {
	policy RetryPlanner
	tiers  tiers
	heads  *pauser
}

// park hands d to the retry tier for delay with reason; true once acknowledged. The
// caller has already set d.Attempt to the number of the next attempt.
func (s *Sender) park(ctx context.Context, j *job, reason Reason, delay time.Duration) bool {
	t := s.retries.tiers.forDelay(delay)
	if reason == ReasonCircuitOpen {
		t = s.retries.tiers.covering(delay) // wait out the cool-down in one write (see parkUntilProbe)
	}
	if err := s.produceAcked(ctx, parkRecord(j, reason, s.now().Add(delay), t.topic)); err != nil {
		return false
	}
	s.metrics.retried.WithLabelValues(t.topic, string(reason)).Inc()
	return true
}

// parkRecord is j's delivery as a record of the tier topic, with why it waits there and
// until when.
func parkRecord(j *job, reason Reason, notBefore time.Time, topic string) *kgo.Record {
	d := *j.d
	d.Reason = string(reason)
	d.NotBefore = notBefore
	return d.Record(topic)
}

// repark parks a delivery without an attempt (open circuit, or a hop: surfaced before
// its due time) and counts it in retry_reparked_total when it came from a retry tier.
func (s *Sender) repark(ctx context.Context, j *job, reason Reason, delay time.Duration) bool {
	if !s.park(ctx, j, reason, delay) {
		return false
	}
	if _, fromTier := s.retries.tiers.delayOf(j.rec.Topic); fromTier {
		s.metrics.reparked.WithLabelValues(string(reason)).Inc()
	}
	return true
}

// parkUntilProbe parks a delivery its open circuit refused, once, until the breaker's
// next probe time, in a tier whose delay covers the wait (so it surfaces when due rather
// than hopping through a short tier every few seconds). No attempt is consumed.
func (s *Sender) parkUntilProbe(ctx context.Context, j *job, next time.Time) bool {
	s.metrics.skipped.WithLabelValues(string(ReasonCircuitOpen)).Inc()
	return s.repark(ctx, j, ReasonCircuitOpen, max(next.Sub(s.now()), time.Millisecond))
}

// backpressure parks the jobs their subscription lanes refused in one poll (see lanes)
// in the first tier, in one produce: a saturated subscription's excess arrives in runs
// of hundreds, and one batch costs the CPU and the broker a fraction of what as many
// single produces would, CPU the neighbours on its partitions need. No attempt is
// consumed. It runs on its own goroutine (workScope).
func (s *Sender) backpressure(ctx context.Context, jobs []*job) {
	started := jobs[:0]
	for _, j := range jobs {
		if j.part.begin() {
			started = append(started, j)
		}
	}
	if len(started) == 0 {
		return
	}
	t := s.retries.tiers.first()
	notBefore := s.now().Add(t.delay)
	recs := make([]*kgo.Record, len(started))
	for i, j := range started {
		recs[i] = parkRecord(j, ReasonBackpressure, notBefore, t.topic)
	}
	s.metrics.skipped.WithLabelValues(string(ReasonBackpressure)).Add(float64(len(started)))
	errs := s.produceAllAcked(ctx, recs)
	parked := s.metrics.retried.WithLabelValues(t.topic, string(ReasonBackpressure))
	for i, j := range started {
		if errs[i] == nil {
			parked.Inc()
		}
		j.part.end(j.rec.Offset, errs[i] == nil)
	}
}
