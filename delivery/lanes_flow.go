package delivery

// Flow control of the subscription lanes (see lanes): a subscription at its budget pauses
// the partitions its deliveries come from, resumes at the low-water mark, and overflows
// its excess to the first retry tier when a neighbour on those partitions runs dry or
// flow.parkAfter passes. The fetch pauses themselves go through the gate (flow.go).

import "time"

// flowState is a subscription lane's flow-control state.
type flowState int

const (
	flowOpen       flowState = iota // below budget, or over it without having paused yet
	flowPaused                      // at its budget: its partitions are paused
	flowOverflowed                  // saturated past the deadline: the excess is parked
)

// full reports whether sl has reached either budget. l.mu held.
func (l *lanes) full(sl *subLane) bool {
	return sl.bytes >= l.flow.maxBytes || sl.queued >= l.flow.maxQueued
}

// drained reports whether sl is at or below the low-water mark: half of both budgets.
// l.mu held.
func (l *lanes) drained(sl *subLane) bool {
	return sl.bytes <= l.flow.maxBytes/2 && sl.queued <= l.flow.maxQueued/2
}

// pause makes sl saturated (starting its deadline) and pauses every partition it has
// deliveries from that is not paused for it yet. l.mu held.
func (l *lanes) pause(sl *subLane) {
	if sl.state == flowOpen {
		sl.epoch++
		l.saturated++
		if l.starving(sl) {
			l.overflowNow(sl, overflowNeighbourDry) // a pause would stall it: park instead
			return
		}
		sl.state = flowPaused
		sl.pausedAt = l.now()
		l.scheduleCheck(sl)
	}
	for p := range sl.parts {
		if !sl.held[p] {
			if sl.held == nil {
				sl.held = map[*partition]bool{}
			}
			sl.held[p] = true
			l.gate.holdFlow(p.tp)
		}
	}
}

// unpause lifts sl's pauses. l.mu held.
func (l *lanes) unpause(sl *subLane) {
	for p := range sl.held {
		l.gate.releaseFlow(p.tp)
	}
	clear(sl.held)
}

// settle ends sl's saturation once it has drained to the low-water mark; an
// overflowing subscription keeps overflowing until its lane is empty, but the tier
// partitions held for it resume at that mark. l.mu held.
func (l *lanes) settle(sl *subLane) {
	if sl.holding > 0 && (sl.queued == 0 || l.drained(sl)) {
		l.releaseHolds(sl)
	}
	if sl.state == flowPaused && l.drained(sl) {
		sl.stopChecks()
		l.unpause(sl)
		sl.state = flowOpen
		l.saturated--
	}
	if sl.queued == 0 {
		if sl.state != flowOpen {
			sl.stopChecks()
			l.unpause(sl)
			l.saturated--
		}
		delete(l.subs, sl.id)
	}
}

// stopChecks cancels sl's pending saturation check, if any. l.mu held.
func (sl *subLane) stopChecks() {
	if sl.stopTimer != nil {
		sl.stopTimer()
		sl.stopTimer = nil
	}
}

// checksPerDeadline is how often, within flow.parkAfter, a paused subscription's
// progress is checked.
const checksPerDeadline = 50

// scheduleCheck arms sl's next saturation check. l.mu held.
func (l *lanes) scheduleCheck(sl *subLane) {
	epoch := sl.epoch
	sl.stopTimer = l.afterFunc(max(l.flow.parkAfter/checksPerDeadline, time.Millisecond), func() { l.check(sl, epoch) })
}

// check ends sl's pause when a neighbour on its partitions is running dry (starving) or
// flow.parkAfter has passed since it paused, and otherwise checks again later.
func (l *lanes) check(sl *subLane, epoch int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[sl.id] != sl || sl.state != flowPaused || sl.epoch != epoch {
		return // drained, emptied or abandoned meanwhile
	}
	switch {
	case l.now().Sub(sl.pausedAt) >= l.flow.parkAfter:
		l.overflowNow(sl, overflowDeadline)
	case l.starving(sl):
		l.overflowNow(sl, overflowNeighbourDry)
	default:
		l.scheduleCheck(sl)
	}
}

// seen notes that subscription id had a delivery from p now. l.mu held.
func (l *lanes) seen(p *partition, id string) {
	r := l.recent[p]
	if r == nil {
		r = map[string]time.Time{}
		l.recent[p] = r
	}
	now := l.now()
	if _, ok := r[id]; !ok && len(r) >= 1024 {
		for k, t := range r { // bound the map: forget subscriptions long gone from p
			if now.Sub(t) > l.flow.parkAfter {
				delete(r, k)
			}
		}
	}
	r[id] = now
}

// starving reports whether pausing sl's partitions holds back another subscription that
// is running dry: one that had a delivery from one of them within the last
// flow.parkAfter, is not saturated itself, and has no more queued than it may have in
// flight (or nothing). Its next deliveries may be right behind the pause, so the pause
// would stall it; subscriptions with a backlog of their own lose nothing by it. l.mu
// held.
func (l *lanes) starving(sl *subLane) bool {
	for p := range sl.parts {
		if l.dryNeighbour(p, sl.id) {
			return true
		}
	}
	for p := range sl.held {
		if l.dryNeighbour(p, sl.id) {
			return true
		}
	}
	return false
}

// dryNeighbour reports whether a subscription other than id that had a delivery from p
// within flow.parkAfter is running dry (see starving). l.mu held.
func (l *lanes) dryNeighbour(p *partition, id string) bool {
	now := l.now()
	for other, at := range l.recent[p] {
		if other == id || now.Sub(at) > l.flow.parkAfter {
			continue
		}
		o := l.subs[other]
		if o == nil || (o.state == flowOpen && o.queued <= o.limit) {
			return true
		}
	}
	return false
}

// Why a subscription overflowed, for the log.
const (
	overflowNeighbourDry = "a subscription sharing its partitions is running dry"
	overflowDeadline     = "saturation_park_after passed"
)

// overflowNow ends sl's pause: it overflows, and the partitions it held resume for the
// other subscriptions. l.mu held.
func (l *lanes) overflowNow(sl *subLane, why string) {
	sl.state = flowOverflowed
	l.unpause(sl)
	l.overflow(sl.id, why, sl.queued, sl.bytes)
	l.report()
}
