package delivery

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// attemptBatchRecorder is implemented by an attempt log that can write many attempts in
// one round trip (*AttemptLog: one Redis pipeline).
type attemptBatchRecorder interface {
	RecordBatch(ctx context.Context, as []Attempt) error
}

var _ attemptBatchRecorder = (*AttemptLog)(nil)

// Attempt writer tuning: the queue is deep enough to absorb a burst of every in-flight
// request finishing at once; a batch is what one pipeline carries.
const (
	attemptQueue        = 4096
	attemptBatchMax     = 256
	attemptWriteTimeout = 10 * time.Second
)

// attemptWriter writes the attempt log off the delivery path, in batches, from one
// goroutine, so a delivery's lane is free as soon as its outcome is decided instead of
// after a Redis round trip, and many attempts share one round trip.
//
// The attempt log is for people (the API's attempt history); Kafka offsets and records
// are the truth, so writing it after the offset may be committed weakens no delivery
// guarantee. Entries are written in the order they were added (one writer, FIFO), so a
// delivery's attempts stay in order. add blocks while the queue is full: backpressure,
// never a silent drop. A failed write is logged with how many entries it lost.
type attemptWriter struct {
	rec  AttemptRecorder
	log  *zap.Logger
	ch   chan Attempt
	done chan struct{}
}

func newAttemptWriter(rec AttemptRecorder, log *zap.Logger) *attemptWriter {
	w := &attemptWriter{rec: rec, log: log, ch: make(chan Attempt, attemptQueue), done: make(chan struct{})}
	go w.run()
	return w
}

// add queues a; it must not be called after close.
func (w *attemptWriter) add(a Attempt) { w.ch <- a }

// close writes what is queued and stops the writer.
func (w *attemptWriter) close() {
	close(w.ch)
	<-w.done
}

func (w *attemptWriter) run() {
	defer close(w.done)
	batch := make([]Attempt, 0, attemptBatchMax)
	for a := range w.ch {
		batch = append(batch[:0], a)
	fill:
		for len(batch) < attemptBatchMax {
			select {
			case more, ok := <-w.ch:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		w.write(batch)
		clear(batch)
	}
}

func (w *attemptWriter) write(batch []Attempt) {
	ctx, cancel := context.WithTimeout(context.Background(), attemptWriteTimeout)
	defer cancel()
	if br, ok := w.rec.(attemptBatchRecorder); ok {
		if err := br.RecordBatch(ctx, batch); err != nil {
			w.log.Warn("attempt log write failed", zap.Int("attempts", len(batch)),
				zap.String("first_delivery_id", batch[0].DeliveryID), zap.Error(err))
		}
		return
	}
	for _, a := range batch {
		if err := w.rec.Record(ctx, a); err != nil {
			w.log.Warn("attempt log write failed", zap.String("delivery_id", a.DeliveryID), zap.Error(err))
		}
	}
}
