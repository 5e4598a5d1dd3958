package bench

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// Latency groups of the hanging scenario.
const (
	groupAll           = "all"
	groupHanging       = "hanging"
	groupHealthyBefore = "healthy_before"
	groupHealthyDuring = "healthy_during"
)

// measure runs the measured phase: produce for c.Duration, with the scenario's
// disturbance halfway, then drain, filling res.
func (r *run) measure(ctx context.Context, res *Result, prod *kgo.Client, ep *endpoint, gen *eventGen, byAccount [][]seeded, roles []*Role, tp *tap) error {
	c := r.c
	busy, err := settle(ctx)
	if err != nil {
		return err
	}
	res.Disturbance.BusyBefore = busy
	res.LoadAvg[0] = LoadAvg()
	procs0 := scanProcs()
	watched := servicePids(procs0)
	watched[os.Getpid()] = "harness"
	for _, ro := range roles {
		for _, pid := range ro.Pids() {
			watched[pid] = ro.Name
		}
	}
	contention := watchContention(watched)
	cpu0, self0 := ReadCPUTimes(), selfCPU()
	start := time.Now()
	series := NewSeries(start, c.Bucket)
	l := NewLedger(series)
	ep.ledger.Store(l)
	defer ep.ledger.Store(nil)
	for _, ro := range roles {
		ro.MarkWindow()
	}
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-monCtx.Done():
				return
			case <-tick.C:
				for _, ro := range roles {
					ro.Sample()
				}
			}
		}
	}()

	profiled := r.profileWindow(ctx, roles, c.Duration)

	half := start.Add(c.Duration / 2)
	var hang seeded
	if c.Hanging {
		hang = byAccount[0][0]
	}
	disturbed := make(chan error, 1)
	go func() { disturbed <- r.disturb(ctx, res, ep, hang, half, start, roles) }()

	accounts := c.Accounts
	p := pacer{start: start, rate: c.Rate, window: c.Window,
		outstanding: func(n int) int { return n - l.Accepted()/c.Fanout }}
	st, err := produceLoop(ctx, prod, c.Duration, p, func(n int, now time.Time) *kgo.Record {
		a := n % accounts
		e := gen.event(n, accountID(r.id, a), now)
		for _, s := range byAccount[a] {
			group, excused := groupAll, false
			switch {
			case c.Hanging && s.ID == hang.ID:
				group, excused = groupHanging, true
			case c.Hanging && now.Before(half):
				group = groupHealthyBefore
			case c.Hanging:
				group = groupHealthyDuring
			}
			l.Expect(events.DeliveryID(e.ID, s.ID), group, excused)
		}
		return &kgo.Record{Topic: r.topic, Key: []byte(e.AccountID), Value: e.Marshal()}
	})
	if err != nil {
		return err
	}
	deliveredInWindow := l.Accepted()
	if err := profiled(); err != nil {
		return err
	}
	if err := <-disturbed; err != nil {
		return err
	}

	// Drain: wait for what is still on its way.
	drainStart := time.Now()
	for l.Pending() > 0 && time.Since(drainStart) < c.Drain {
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	res.LoadAvg[1] = LoadAvg()
	res.MachineBusy = BusyShare(cpu0, ReadCPUTimes())
	res.HarnessCPUSeconds = (selfCPU() - self0).Seconds()
	ours := map[int]bool{os.Getpid(): true}
	for _, ro := range roles {
		for _, pid := range ro.Pids() {
			ours[pid] = true
		}
	}
	other, busiest := otherCPU(procs0, scanProcs(), ours)
	res.Disturbance.OtherCPUShare = other.Seconds() / (float64(runtime.NumCPU()) * time.Since(start).Seconds())
	res.Disturbance.Busiest = busiest
	res.Contention = contention.finish()
	stopMon()

	res.EventsIn = st.Produced
	res.ProduceSeconds = st.Elapsed.Seconds()
	res.EventsPerSec = float64(st.Produced) / st.Elapsed.Seconds()
	res.DeliveriesPerSec = float64(deliveredInWindow) / st.Elapsed.Seconds()
	res.Counts = l.Counts()
	res.Latency, res.LatencyGroups = l.Latencies()
	if !c.Hanging {
		res.LatencyGroups = nil
	}
	res.Series = series.Points()
	stages := tp.stages(l.Arrivals())
	res.Stages = &stages
	return nil
}

// disturb waits until half and then applies the scenario's disturbance: the hanging
// endpoint starts hanging, or the sender restarts. It records each step in res.Marks.
func (r *run) disturb(ctx context.Context, res *Result, ep *endpoint, hang seeded, half, start time.Time, roles []*Role) error {
	if !r.c.Hanging && !r.c.RestartSender {
		return nil
	}
	if err := sleepCtx(ctx, time.Until(half)); err != nil {
		return err
	}
	mark := func(what string) {
		res.Marks = append(res.Marks, Mark{At: time.Since(start).Seconds(), What: what})
	}
	if r.c.Hanging {
		ep.Hang(hookPath(hang.Index))
		mark("endpoint " + hookPath(hang.Index) + " hangs")
	}
	if r.c.RestartSender {
		for _, ro := range roles {
			if ro.Name != "sender" {
				continue
			}
			mark("sender SIGTERM")
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := ro.Restart(rctx, stopGrace)
			cancel()
			if err != nil {
				return err
			}
			mark("sender ready")
		}
	}
	return nil
}

// selfCPU is this process's CPU time so far (0 when /proc is unreadable).
func selfCPU() time.Duration {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		return 0
	}
	return s.CPU
}
