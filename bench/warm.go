package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokerWarmUp is what WarmBroker did and how long it took.
type BrokerWarmUp struct {
	// Seconds is the whole warm-up: on a fresh broker this includes creating and
	// loading __transaction_state and __consumer_offsets, which would otherwise land in
	// the first timed window.
	Seconds float64 `json:"seconds"`
	// TxnSeconds and GroupSeconds split it: the first transaction (init, produce,
	// commit) and the first group join + offset commit.
	TxnSeconds   float64 `json:"txn_seconds"`
	GroupSeconds float64 `json:"group_seconds"`
	// RunSeconds is the untimed warm-up run of the scenario that followed (see
	// DefaultWarmUp), set-up and drain included, and RunDeliveries what it delivered.
	RunSeconds    float64 `json:"run_seconds,omitempty"`
	RunDeliveries int     `json:"run_deliveries,omitempty"`
}

// DefaultWarmUp is how long the untimed warm-up run of a scenario produces by default.
// The broker is a JVM, and its JIT compiler is the busiest thread of a freshly started
// one: measured on the 2-core reference machine (C2 compiler threads' CPU from
// /proc/<pid>/task), a fresh broker's C2 took 10 s of CPU over 30 s of synthetic
// transactional traffic and then still 3.9, 2.4 and 0.8 s in the next three 10-second
// latency runs — CPU taken, on two cores, from the pipeline being timed, so a first
// run measured the JIT rather than eventrouter (first run's p99 2–10× the others').
// A production broker has been running for days. Warming with the scenario's own
// traffic compiles exactly the code paths the timed runs use. The local broker
// (scripts/kafka.sh) now runs HotSpot's C1 compiler alone, which has far less to do;
// the warm-up stays for a broker that does not, and for the pipeline's own first
// connections and caches. A run's report shows the broker's JIT compiler CPU beside its
// total (ProcContention.JITSeconds).
const DefaultWarmUp = 30 * time.Second

// warmUpTimeout bounds WarmBroker: a fresh broker creates 50 partitions of each
// internal topic, which takes seconds, not minutes.
const warmUpTimeout = 2 * time.Minute

// WarmBroker commits one transaction and one consumer-group offset on a throwaway topic,
// so a fresh broker's first transactional and group-coordinator work (creating and
// loading its internal topics, electing coordinators) happens before anything is timed,
// The topic and group are deleted afterwards. Repeat calls it before the first run of an
// invocation, followed by a warm-up run.
func WarmBroker(ctx context.Context, brokers []string) (BrokerWarmUp, error) {
	ctx, cancel := context.WithTimeout(ctx, warmUpTimeout)
	defer cancel()
	id := randomID()
	topic, group := "bench-warm-"+id, "bench-warm-"+id
	start := time.Now()

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return BrokerWarmUp{}, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		return BrokerWarmUp{}, fmt.Errorf("bench: warm-up topic: %w", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = adm.DeleteGroups(dctx, group)
		_, _ = adm.DeleteTopics(dctx, topic)
	}()

	var w BrokerWarmUp
	t := time.Now()
	if err := warmTransaction(ctx, brokers, topic, "bench-warm-"+id); err != nil {
		return w, err
	}
	w.TxnSeconds = time.Since(t).Seconds()
	t = time.Now()
	if err := warmGroup(ctx, brokers, topic, group); err != nil {
		return w, err
	}
	w.GroupSeconds = time.Since(t).Seconds()
	w.Seconds = time.Since(start).Seconds()
	return w, nil
}

// warmTransaction commits one transaction of one record to topic, retrying while the
// broker is still creating its transaction state (the first attempts on a fresh broker
// may time out or be refused as not ready).
func warmTransaction(ctx context.Context, brokers []string, topic, txnID string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID),
		kgo.DefaultProduceTopic(topic), kgo.TransactionTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		err := func() error {
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
				_ = cl.EndTransaction(ctx, kgo.TryAbort)
				return err
			}
			return cl.EndTransaction(ctx, kgo.TryCommit)
		}()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("bench: warm-up transaction: %w", errors.Join(err, ctx.Err()))
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// warmGroup joins group, reads the record committed to topic (read_committed, as the
// roles do) and commits its offset.
func warmGroup(ctx context.Context, brokers []string, topic, group string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit())
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("bench: warm-up group: no record read: %w", ctx.Err())
		}
		if fs.NumRecords() > 0 {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				return fmt.Errorf("bench: warm-up group commit: %w", err)
			}
			return nil
		}
	}
}
