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
	// TrafficSeconds is the untimed traffic that followed (see DefaultWarmUpTraffic),
	// and TrafficRecords how many records went all the way through it.
	TrafficSeconds float64 `json:"traffic_seconds"`
	TrafficRecords int64   `json:"traffic_records"`
}

// warmUpTimeout bounds WarmBroker: a fresh broker creates 50 partitions of each
// internal topic, which takes seconds, not minutes.
const warmUpTimeout = 2 * time.Minute

// WarmBroker commits one transaction and one consumer-group offset on a throwaway topic,
// so a fresh broker's first transactional and group-coordinator work (creating and
// loading its internal topics, electing coordinators) happens before anything is timed,
// then drives traffic through a small pipeline of the same request kinds for traffic
// (none when 0), so the broker's JIT has compiled its hot paths. Topics and groups are
// deleted afterwards. Repeat calls it before the first run of an invocation.
func WarmBroker(ctx context.Context, brokers []string, traffic time.Duration) (BrokerWarmUp, error) {
	ctx, cancel := context.WithTimeout(ctx, warmUpTimeout+traffic)
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
	if traffic > 0 {
		t = time.Now()
		n, err := warmTraffic(ctx, brokers, id, traffic)
		if err != nil {
			return w, err
		}
		if n == 0 {
			return w, fmt.Errorf("bench: warm-up traffic: nothing went through the broker in %s", traffic)
		}
		w.TrafficSeconds, w.TrafficRecords = time.Since(t).Seconds(), n
	}
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
