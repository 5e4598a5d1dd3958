package delivery

// Running the lanes' jobs (see lanes): pump starts ready object lanes on worker
// goroutines, a worker keeps its goroutine for the next task, and exec runs one job
// after another while its subscription has ready ones.

import "time"

// workerIdle is how long a worker goroutine waits for another job before exiting.
const workerIdle = time.Second

// pump starts as many ready object lanes as the subscription's limit allows, one
// goroutine each: an idle worker's if one is waiting, else a new one. l.mu held.
func (l *lanes) pump(sl *subLane) {
	for sl.inFlight < sl.limit && len(sl.ready) > 0 {
		ol, j := sl.take()
		sl.inFlight++
		l.wg.Add(1)
		t := laneTask{sl: sl, ol: ol, j: j}
		select {
		case l.idle <- t:
		default:
			go l.worker(t)
		}
	}
}

// worker runs t (exec), then waits up to workerIdle for another task before exiting.
// A delivery's path (signing, net/http) needs a goroutine stack several times the size
// a new goroutine starts with: at a steady rate, where most jobs find their lane empty,
// a goroutine per job grew its stack again for every delivery (a tenth of the sender's
// CPU in a profile at 2 000 deliveries/s). A worker keeps its grown stack between jobs.
func (l *lanes) worker(t laneTask) {
	timer := time.NewTimer(workerIdle)
	defer timer.Stop()
	for {
		l.exec(t.sl, t.ol, t.j)
		timer.Reset(workerIdle)
		select {
		case t = <-l.idle:
		case <-timer.C:
			return
		case <-l.quit:
			return
		}
	}
}

// take pops the next ready object lane's head job and marks the lane busy. The caller
// holds l.mu.
func (sl *subLane) take() (*objLane, *job) {
	ol := sl.ready[0]
	sl.ready[0] = nil
	sl.ready = sl.ready[1:]
	j := ol.q[0]
	ol.q[0] = nil
	ol.q = ol.q[1:]
	ol.busy = true
	return ol, j
}

// exec runs j, then keeps its goroutine (and its grown stack) for the subscription's
// next ready job while there is one, instead of exiting and spawning another: under
// load most jobs then run without a goroutine start. Ordering is unchanged: a job is
// only ever taken from a ready (not busy) object lane, exactly as pump would.
func (l *lanes) exec(sl *subLane, ol *objLane, j *job) {
	defer l.wg.Done()
	for {
		l.run(j)
		l.mu.Lock()
		l.done(sl, j)
		ol.busy = false
		if len(ol.q) > 0 {
			sl.ready = append(sl.ready, ol)
		} else {
			delete(sl.objects, ol.key)
		}
		if sl.inFlight <= sl.limit && len(sl.ready) > 0 {
			ol, j = sl.take() // keeps this goroutine's in-flight place
			l.pump(sl)        // the limit may have grown meanwhile
			l.settle(sl)
			l.report()
			l.mu.Unlock()
			continue
		}
		sl.inFlight--
		l.pump(sl)
		l.settle(sl)
		l.report()
		l.mu.Unlock()
		return
	}
}
