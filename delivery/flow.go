package delivery

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Flow control bounds what one subscription holds queued in this process without
// delaying or reordering its deliveries in the common case (a burst) and without letting
// a slow subscription stall the others that share its partitions for long:
//
//   - a subscription is saturated when its queued (and in-flight) deliveries reach
//     maxBytes (record bytes plus jobOverhead each) or maxQueued deliveries;
//   - a saturated subscription pauses fetching of the partitions its queued deliveries
//     came from (the deliveries topic is keyed by subscription id, so that is usually
//     one deliveries partition, plus the retry tier partitions it has records in).
//     Records already fetched are still queued: the budget is soft, bounded by one
//     poll;
//   - it resumes them once it drains to half of both budgets (the low-water mark);
//   - it overflows instead of pausing, or ends its pause, when a neighbour on those
//     partitions is running dry (lanes.starving), or at parkAfter: its pauses are
//     lifted at once,
//     so the other subscriptions of those partitions proceed, and while it stays at its
//     budget each further delivery of it is parked in the first retry tier (reason
//     backpressure, no attempt consumed). It keeps overflowing until its lane is empty;
//   - a parked delivery that surfaces while its subscription is still overflowing at its
//     budget holds its tier partition instead of being parked again (tierhold.go),
//     within the same bounds for the neighbours: none running dry, at most parkAfter.
type flowConfig struct {
	maxBytes  int64
	maxQueued int
	parkAfter time.Duration
}

// jobOverhead is the memory a queued delivery costs beyond its record's bytes (the
// parsed delivery, the record and job structs, queue slots); part of the byte budget so
// that tiny records cannot queue without bound.
const jobOverhead = 1024

// jobSize is a delivery record's cost in its subscription's byte budget.
func jobSize(rec *kgo.Record) int64 {
	if rec == nil {
		return jobOverhead
	}
	n := len(rec.Key) + len(rec.Value)
	for _, h := range rec.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n) + jobOverhead
}

// fetchPauser is the part of *kgo.Client the gate drives.
type fetchPauser interface {
	PauseFetchPartitions(map[string][]int32) map[string][]int32
	ResumeFetchPartitions(map[string][]int32)
}

// fetchGate pauses fetching of a partition while anything holds it: the tier pauser
// (its head is not yet due) and any number of saturated subscriptions. The partition is
// paused on its first hold and resumed when the last is released, so neither mechanism
// resumes a partition the other still needs paused. The Kafka calls happen under the
// gate's lock, so pauses and resumes reach the client in the order they were decided.
type fetchGate struct {
	cl  fetchPauser
	now func() time.Time
	// flowChanged reports the number of partitions paused by flow control after a
	// change, and how long a partition flow control just stopped holding was held
	// (0 for other changes).
	flowChanged func(paused int, heldFor time.Duration)

	mu         sync.Mutex
	holds      map[topicPartition]*gateHold
	flowPaused int
}

type gateHold struct {
	tier      bool
	flow      int // saturated subscriptions holding it
	flowSince time.Time
}

func newFetchGate(cl fetchPauser, now func() time.Time, flowChanged func(int, time.Duration)) *fetchGate {
	if flowChanged == nil {
		flowChanged = func(int, time.Duration) {}
	}
	return &fetchGate{cl: cl, now: now, flowChanged: flowChanged, holds: map[topicPartition]*gateHold{}}
}

// holdTier and releaseTier pause and resume tp for the tier pauser (idempotent).
func (g *fetchGate) holdTier(tp topicPartition) {
	g.change(tp, func(h *gateHold) { h.tier = true })
}

func (g *fetchGate) releaseTier(tp topicPartition) {
	g.change(tp, func(h *gateHold) { h.tier = false })
}

// holdFlow and releaseFlow count one saturated subscription's hold on tp; every
// holdFlow is matched by exactly one releaseFlow.
func (g *fetchGate) holdFlow(tp topicPartition) {
	g.change(tp, func(h *gateHold) { h.flow++ })
}

func (g *fetchGate) releaseFlow(tp topicPartition) {
	g.change(tp, func(h *gateHold) { h.flow = max(h.flow-1, 0) })
}

func (g *fetchGate) change(tp topicPartition, f func(*gateHold)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.holds[tp]
	if h == nil {
		h = &gateHold{}
	}
	wasHeld, wasFlow := h.tier || h.flow > 0, h.flow > 0
	f(h)
	isHeld, isFlow := h.tier || h.flow > 0, h.flow > 0
	if isHeld {
		g.holds[tp] = h
	} else {
		delete(g.holds, tp)
	}
	one := map[string][]int32{tp.topic: {tp.partition}}
	switch {
	case isHeld && !wasHeld:
		g.cl.PauseFetchPartitions(one)
	case wasHeld && !isHeld:
		g.cl.ResumeFetchPartitions(one)
	}
	switch {
	case isFlow && !wasFlow:
		h.flowSince = g.now()
		g.flowPaused++
		g.flowChanged(g.flowPaused, 0)
	case wasFlow && !isFlow:
		g.flowPaused--
		g.flowChanged(g.flowPaused, g.now().Sub(h.flowSince))
	}
}

// overflowed logs a saturated subscription that stopped (or never started) pausing its
// partitions; its further excess is parked (counted in
// skipped_total{reason="backpressure"}).
func (s *Sender) overflowed(subID, why string, queued int, bytes int64) {
	s.log.Info("subscription saturated: parking its excess in the first retry tier so its partitions keep flowing",
		zap.String("subscription_id", subID), zap.String("why", why), zap.Int("queued", queued),
		zap.Int64("queued_bytes", bytes))
}
