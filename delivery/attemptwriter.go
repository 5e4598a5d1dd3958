package delivery

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// attemptBatchRecorder is implemented by an attempt log that can write many attempts,
// and clear failing-since records, in one round trip (*AttemptLog: one Redis pipeline).
type attemptBatchRecorder interface {
	WriteBatch(ctx context.Context, as []Attempt, clearFailing []string) error
}

var _ attemptBatchRecorder = (*AttemptLog)(nil)

// Attempt writer tuning: the queue is deep enough to absorb a burst of every in-flight
// request finishing at once several times over; a batch is what one pipeline carries;
// a batch not filled by what is queued waits attemptLinger for more to join it.
const (
	attemptQueue        = 4096
	attemptBatchMax     = 256
	attemptWriteTimeout = 10 * time.Second
	attemptLinger       = 20 * time.Millisecond
)

// attemptWriter writes the attempt log off the delivery path, in batches, from one
// goroutine, so a delivery's lane is free as soon as its outcome is decided instead of
// after a Redis round trip, and many attempts share one round trip. A batch that is not
// full with what is queued when its first entry arrives waits attemptLinger for more: a
// round trip costs the writer and Redis about as much CPU as writing one or two attempts,
// and the fuller the batch, the more of a subscription's attempts share one LPUSH. An
// attempt shows in the API at most attemptLinger (plus the write) after its outcome.
//
// The attempt log is for people (the API's attempt history); Kafka offsets and records
// are the truth, so writing it after the offset may be committed weakens no delivery
// guarantee. Entries are written in the order they were added (one writer, FIFO), so a
// delivery's attempts stay in order. While Redis is slow or down the queue fills; add
// then drops the entry rather than holding up deliveries for an informational log —
// counted (eventrouter_sender_attempt_log_dropped_total) and logged, as a failed write
// always was. A failed write is logged with how many entries it lost.
//
// An entry may also clear its subscription's failing-since record (a success's, see
// health.succeeded): the DEL rides in the same pipeline, and the clears of a batch
// written without error are confirmed through cleared. A dropped or failed clear is
// simply not confirmed.
type attemptWriter struct {
	rec   AttemptRecorder
	log   *zap.Logger
	ch    chan attemptEntry
	done  chan struct{}
	hooks attemptHooks
	drops atomic.Int64
}

// attemptHooks tell the writer's owner what the writer did. Every field must be set;
// they are called from the writer's goroutine, except dropped (from add's caller).
type attemptHooks struct {
	dropped func()                // counts one dropped entry
	batch   func(attempts int)    // observes the size of one batch about to be written
	cleared func(subIDs []string) // confirms written clears; must not keep subIDs
}

// attemptEntry is one queued attempt; clearFailing also clears its subscription's
// failing-since record.
type attemptEntry struct {
	a            Attempt
	clearFailing bool
}

func newAttemptWriter(rec AttemptRecorder, hooks attemptHooks, log *zap.Logger) *attemptWriter {
	w := &attemptWriter{rec: rec, log: log, ch: make(chan attemptEntry, attemptQueue), done: make(chan struct{}),
		hooks: hooks}
	go w.run()
	return w
}

// add queues e without blocking, or drops it when the queue is full. It must not be
// called after close.
func (w *attemptWriter) add(e attemptEntry) {
	select {
	case w.ch <- e:
	default:
		w.hooks.dropped()
		if n := w.drops.Add(1); n&(n-1) == 0 { // 1st, 2nd, 4th, 8th, ... drop: bounded logging
			w.log.Warn("attempt log queue full (Redis slow or down?): dropping attempt log entries",
				zap.Int64("dropped_total", n), zap.String("delivery_id", e.a.DeliveryID))
		}
	}
}

// close writes what is queued and stops the writer.
func (w *attemptWriter) close() {
	close(w.ch)
	<-w.done
}

func (w *attemptWriter) run() {
	defer close(w.done)
	b := attemptBatch{as: make([]Attempt, 0, attemptBatchMax)}
	for e := range w.ch {
		b.reset()
		b.add(e)
		// Take what is queued; if that is not a full batch, let more gather for
		// attemptLinger and take it then. Sleeping, rather than waiting on the queue,
		// wakes this goroutine twice a batch instead of once an attempt. close ends the
		// sleep no sooner, so shutdown waits at most attemptLinger longer.
		if w.fill(&b) {
			time.Sleep(attemptLinger)
			w.fill(&b)
		}
		w.write(b.as, b.clears)
	}
}

// attemptBatch is one batch: its attempts, and the subscriptions whose failing-since
// records it clears. Its slices are reused from batch to batch.
type attemptBatch struct {
	as     []Attempt
	clears []string
}

func (b *attemptBatch) reset() {
	clear(b.as)
	b.as, b.clears = b.as[:0], b.clears[:0]
}

func (b *attemptBatch) add(e attemptEntry) {
	b.as = append(b.as, e.a)
	if e.clearFailing {
		b.clears = append(b.clears, e.a.SubscriptionID)
	}
}

// fill adds the queued entries to b without waiting, and reports whether more may
// still join it: b is not full and the queue is not closed.
func (w *attemptWriter) fill(b *attemptBatch) (more bool) {
	for len(b.as) < attemptBatchMax {
		select {
		case e, ok := <-w.ch:
			if !ok {
				return false
			}
			b.add(e)
		default:
			return true
		}
	}
	return false
}

// write writes one batch and confirms its clears once written.
func (w *attemptWriter) write(as []Attempt, clears []string) {
	w.hooks.batch(len(as))
	ctx, cancel := context.WithTimeout(context.Background(), attemptWriteTimeout)
	defer cancel()
	if br, ok := w.rec.(attemptBatchRecorder); ok {
		if err := br.WriteBatch(ctx, as, clears); err != nil {
			w.log.Warn("attempt log write failed", zap.Int("attempts", len(as)), zap.Int("failing_clears", len(clears)),
				zap.String("first_delivery_id", as[0].DeliveryID), zap.Error(err))
			return
		}
	} else {
		for _, a := range as {
			if err := w.rec.Record(ctx, a); err != nil {
				w.log.Warn("attempt log write failed", zap.String("delivery_id", a.DeliveryID), zap.Error(err))
			}
		}
		written := clears[:0]
		for _, id := range clears {
			if _, err := w.rec.Outcome(ctx, id, true, time.Now()); err != nil {
				w.log.Warn("failing-since clear failed", zap.String("subscription_id", id), zap.Error(err))
				continue
			}
			written = append(written, id)
		}
		clears = written
	}
	if len(clears) > 0 {
		w.hooks.cleared(clears)
	}
}

// attemptSink is the sender's end of the attempt log: the recorder (nil: no attempt
// log) and, once Run starts, its writer.
type attemptSink struct {
	rec AttemptRecorder
	w   *attemptWriter
}

// start starts the writer (Run calls it once).
func (s *attemptSink) start(hooks attemptHooks, log *zap.Logger) {
	if s.rec != nil {
		s.w = newAttemptWriter(s.rec, hooks, log)
	}
}

// enabled reports whether attempts are recorded at all.
func (s *attemptSink) enabled() bool { return s.w != nil }

// add queues e (see attemptWriter.add).
func (s *attemptSink) add(e attemptEntry) { s.w.add(e) }

// close writes what is queued and stops the writer.
func (s *attemptSink) close() {
	if s.w != nil {
		s.w.close()
	}
}
