package delivery

// Tier holds (flow control, lanes): a delivery that surfaces from a retry tier for a
// subscription that has overflowed and is still at its budget would be refused and parked
// in the first tier again, to come back a tier delay later and be refused again: every
// waiting delivery is produced and fetched once per tier delay for as long as its
// subscription stays saturated, work that competes with every other subscription for the
// broker and the CPU. Instead, the tier partition is held at that record (paused and
// rewound to it, as for a head that is not yet due) until the subscription drains to its
// low-water mark, or until flow.parkAfter passes, which bounds how long the records of
// other subscriptions behind it in that tier partition can wait, exactly as for a paused
// deliveries partition. When a hold expires, the records already in the partition are
// handled as before (admitted, or parked again) and only records that arrive in the
// partition afterwards can start a new hold, so the partition always moves on.

import "time"

// tierHold is a tier partition held at a record for one subscription.
type tierHold struct {
	sub   *subLane
	since time.Time
}

// holdTier reports whether a record at offset of the tier partition p, for subscription
// subID, is to be left in the partition for now, and for how long at most: true while
// that subscription has overflowed and is still at its budget (enqueue would refuse the
// record), no other subscription fed from p is running dry, and neither the partition's
// hold for it has expired nor the record was already in the partition when one did
// (offset below the high-water mark then). hwm is p's high-water mark as last fetched.
// The caller rewinds p to offset and pauses it for the returned wait.
func (l *lanes) holdTier(p *partition, subID string, offset, hwm int64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl := l.subs[subID]
	if sl == nil || sl.state != flowOverflowed || !l.full(sl) {
		return 0, false
	}
	now := l.now()
	h := l.holds[p]
	if h != nil && now.Sub(h.since) >= l.flow.parkAfter {
		l.unhold(p)
		l.holdCut[p] = hwm // what is in p now moves on; later arrivals may be held again
		return 0, false
	}
	if offset < l.holdCut[p] || l.dryNeighbour(p, subID) {
		return 0, false
	}
	if h == nil || h.sub != sl {
		if h != nil {
			l.unhold(p)
		}
		h = &tierHold{sub: sl, since: now}
		l.holds[p] = h
		sl.holding++
	}
	return l.flow.parkAfter - now.Sub(h.since), true
}

// unhold forgets p's hold without resuming p. l.mu held.
func (l *lanes) unhold(p *partition) {
	if h := l.holds[p]; h != nil {
		h.sub.holding--
		delete(l.holds, p)
	}
}

// releaseHolds resumes every tier partition held for sl: it has room for what waits
// there. l.mu held.
func (l *lanes) releaseHolds(sl *subLane) {
	for p, h := range l.holds {
		if h.sub == sl {
			l.unhold(p)
			l.resumeTier(p.tp)
		}
	}
}
