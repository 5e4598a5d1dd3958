package router

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// outcome is how one batch's transaction ended.
type outcome int

const (
	outcomeCommitted    outcome = iota
	outcomeRebalanced           // aborted by a rebalance; the session rewound
	outcomeProduceError         // aborted after a produce error; rewound, retry after a pause
)

// backlogRecords buffered records mean a backlog: a transaction then keeps taking them
// (up to MaxTransactionRecords and MaxTransactionSpan) so a backlog is drained in fewer,
// larger transactions.
const backlogRecords = 256

// process runs one transaction: Begin, route the polled records, keep polling and
// routing while a backlog is buffered or the pace says it is too early to commit (see
// pacer: at most MaxTransactionSpan after Begin), then End. A produce error aborts (the
// session rewinds to the committed offsets, and the same records come back on the next
// poll). Only an error from Begin or End is returned: franz-go documents those as
// unrecoverable.
//
// The batch finishes even if ctx is canceled meanwhile (bounded by the transaction
// timeout), so a clean shutdown commits what it has done instead of redoing it.
func (r *Router) process(ctx context.Context, sess *kgo.GroupTransactSession, pace *pacer, fetches kgo.Fetches) (outcome, error) {
	start := time.Now()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.TransactionTimeout)
	defer cancel()
	if err := sess.Begin(); err != nil {
		return 0, fmt.Errorf("router: begin transaction: %w", err)
	}
	b := &batch{r: r, sess: sess, ctx: bctx, tally: newTally(), result: newProduceResult(sess.Client())}
	b.emit = b.produce
	n := b.routeFetches(fetches)
	commitAt := pace.commitAt(start, r.cfg.MaxTransactionSpan)
	for n < r.cfg.MaxTransactionRecords && time.Since(start) < r.cfg.MaxTransactionSpan && ctx.Err() == nil {
		backlog := sess.Client().BufferedFetchRecords() >= backlogRecords
		wait := time.Until(commitAt)
		if !backlog && wait <= 0 {
			break
		}
		// A buffered backlog makes the poll return at once; the short timeout only
		// guards against its being dropped meanwhile (a revoked partition). Otherwise
		// the poll waits for the next fetch until it is time to commit.
		timeout := time.Millisecond
		if !backlog {
			timeout = wait
		}
		pctx, pcancel := context.WithTimeout(ctx, timeout)
		more := sess.PollRecords(pctx, min(r.cfg.MaxPollRecords, r.cfg.MaxTransactionRecords-n))
		pcancel()
		r.fetchErrors(more)
		if more.NumRecords() == 0 {
			if backlog {
				break
			}
			continue // the next turn commits if it is time
		}
		n += b.routeFetches(more)
	}
	// Flush so every promise has run before we decide; End would flush too, but it
	// needs the decision first.
	flushErr := sess.Client().Flush(bctx)
	produceErr := b.result.wait()
	if produceErr == nil {
		produceErr = flushErr
	}
	endStart := time.Now()
	committed, err := sess.End(bctx, kgo.TransactionEndTry(produceErr == nil))
	if err == nil && committed && produceErr == nil {
		pace.ended(time.Since(endStart), time.Now())
	}
	if err != nil {
		return 0, fmt.Errorf("router: end transaction: %w", err)
	}
	switch {
	case produceErr != nil:
		r.metrics.abortedTxn(abortProduceError)
		r.log.Warn("transaction aborted after a produce error; retrying from the committed offsets",
			zap.Int("records", n), zap.Error(produceErr))
		return outcomeProduceError, nil
	case !committed:
		r.metrics.abortedTxn(abortRebalance)
		r.log.Info("transaction aborted by a rebalance; continuing from the committed offsets",
			zap.Int("records", n))
		return outcomeRebalanced, nil
	}
	r.metrics.committed(b.tally, time.Since(start), time.Since(endStart))
	return outcomeCommitted, nil
}

// batch is the state of one transaction in progress. Only the goroutine running
// process touches it.
type batch struct {
	r      *Router
	sess   *kgo.GroupTransactSession
	ctx    context.Context
	tally  *tally
	result *produceResult
	recs   []*kgo.Record // one poll's records in ingest order, reused
	emit   emitFunc      // b.produce, bound once
}

// routeFetches routes one poll's records and returns how many there were. Records are
// produced in the order they were fetched, so the deliveries of one ingest partition
// keep its order within each deliveries partition.
func (b *batch) routeFetches(fetches kgo.Fetches) int {
	b.recs = b.recs[:0]
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			b.r.metrics.lag(p.Topic, p.Partition, p.HighWatermark, p.Records[n-1].Offset)
		}
		b.recs = append(b.recs, p.Records...)
	})
	b.r.routeAll(b.recs, b.emit)
	n := len(b.recs)
	clear(b.recs)
	return n
}

// produce produces one ingest record's output and counts its outcome (applied to the
// metrics only if the transaction commits).
func (b *batch) produce(rec *kgo.Record, rt routed, out []*kgo.Record) {
	t := b.tally
	t.consumed[rec.Topic]++
	if rt.wrongTopic {
		t.wrongTopic[rec.Topic]++
	}
	if rt.eventName != "" {
		t.fanouts = append(t.fanouts, rt.fanout)
	}
	switch {
	case rt.reason != "":
		t.invalid[rt.reason]++
	case rt.fanout == 0:
		t.unmatched++
	default:
		t.produced[rt.eventName] += len(out)
	}
	b.result.add(len(out))
	for _, o := range out {
		b.sess.Produce(b.ctx, o, b.result.promise)
	}
}
