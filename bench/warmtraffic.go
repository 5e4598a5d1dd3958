package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultWarmUpTraffic is how long WarmBroker drives untimed traffic through the broker by
// default. The broker is a JVM: on a freshly started one the JIT compiler (C2) is the
// busiest thread for the first minutes of traffic — measured on the 2-core reference
// machine, 19 s of C2 CPU over the first four 10-second latency runs and still 0.8 s in
// the sixth — and on two cores that CPU is taken from the pipeline being timed, so the
// first runs after `make services-up` measured the JIT, not eventrouter. A production
// broker has been running for days; 30 s of the same kinds of requests the pipeline
// makes brings a fresh one close to that before anything is timed.
const DefaultWarmUpTraffic = 30 * time.Second

// Warm-up traffic shape: roughly what the pipeline asks of the broker at 2 000 events/s.
const (
	warmRate      = 2000 // records per second produced to the ingest-like topic
	warmTxnEvery  = 15 * time.Millisecond
	warmRecord    = 1024
	warmPartition = 6
)

// warmTraffic runs a small pipeline of the same request kinds as eventrouter's for d:
// an idempotent producer writes to topic a (the upstream services), a group-transact
// session reads a and re-produces to b committing its offsets in the transaction (the
// router), and a read_committed group reads b and commits (the sender). It returns how
// many records reached the end.
func warmTraffic(ctx context.Context, brokers []string, id string, d time.Duration) (int64, error) {
	a, b := "bench-warm-"+id+".in", "bench-warm-"+id+".out"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopics(ctx, warmPartition, -1, nil, a, b); err != nil {
		return 0, fmt.Errorf("bench: warm-up topics: %w", err)
	}
	groupA, groupB := "bench-warm-"+id+"-t", "bench-warm-"+id+"-c"
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = adm.DeleteGroups(dctx, groupA, groupB)
		_, _ = adm.DeleteTopics(dctx, a, b)
	}()

	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error
		received int64
	)
	fail := func(err error) {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	wg.Add(3)
	go func() { defer wg.Done(); fail(warmProduce(tctx, brokers, a)) }()
	go func() { defer wg.Done(); fail(warmTransact(tctx, brokers, a, b, groupA, id)) }()
	go func() {
		defer wg.Done()
		n, err := warmConsume(tctx, brokers, b, groupB)
		received = n
		fail(err)
	}()
	wg.Wait()
	if ctx.Err() != nil {
		return received, ctx.Err()
	}
	return received, errors.Join(errs...)
}

// warmProduce writes warmRate records a second to topic until ctx ends.
func warmProduce(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	value := make([]byte, warmRecord)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var n int
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for range warmRate / 100 {
			n++
			cl.Produce(ctx, &kgo.Record{Key: strconv.AppendInt(nil, int64(n), 10), Value: value}, nil)
		}
	}
}

// warmTransact re-produces what it reads from in to out, one transaction every
// warmTxnEvery with the consumed offsets, like the router.
func warmTransact(ctx context.Context, brokers []string, in, out, group, id string) error {
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(brokers...),
		kgo.TransactionalID("bench-warm-"+id), kgo.TransactionTimeout(30*time.Second),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.DefaultProduceTopic(out),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(warmTxnEvery),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer sess.Close()
	for ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if fs.NumRecords() == 0 {
			continue
		}
		// The batch finishes after ctx ends too, so the consumer sees whole transactions.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := sess.Begin(); err != nil {
			cancel()
			return fmt.Errorf("bench: warm-up begin: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(bctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
		})
		_, err := sess.End(bctx, kgo.TryCommit)
		cancel()
		if err != nil {
			return fmt.Errorf("bench: warm-up commit: %w", err)
		}
	}
	return nil
}

// warmConsume reads topic read_committed in group, committing every 100 ms, like the
// sender, and returns how many records it read.
func warmConsume(ctx context.Context, brokers []string, topic, group string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AutoCommitInterval(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	for ctx.Err() == nil {
		n += int64(cl.PollFetches(ctx).NumRecords())
	}
	return n, nil
}
