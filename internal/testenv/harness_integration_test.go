//go:build integration

package testenv_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/internal/testenv"
)

// TestNewTopicCreatesAndDeletes checks that NewTopic gives a topic with the
// requested partitions, all led, and removes it when its test ends.
func TestNewTopicCreatesAndDeletes(t *testing.T) {
	ctx := testenv.Context(t, 60*time.Second)
	seeds := testenv.Kafka(t)
	adm := testenv.KafkaAdmin(t)

	var topic string
	t.Run("create", func(t *testing.T) {
		topic = testenv.NewTopic(t, seeds, 3)
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		td := md.Topics[topic]
		if td.Err != nil || len(td.Partitions) != 3 {
			t.Fatalf("topic %s: err %v, %d partitions; want 3", topic, td.Err, len(td.Partitions))
		}
	})
	if t.Failed() {
		return
	}
	// Deletion completes asynchronously on the controller; poll.
	for {
		topics, err := adm.ListTopics(ctx)
		if err == nil && !topics.Has(topic) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s still listed after its test ended (err %v)", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTransactionsVisibility proves the broker runs real transactions: a
// read_committed consumer sees committed records only, while a
// read_uncommitted consumer also sees the aborted ones (so the first check
// can fail).
func TestTransactionsVisibility(t *testing.T) {
	ctx := testenv.Context(t, 90*time.Second)
	seeds := testenv.Kafka(t)
	topic := testenv.NewTopic(t, seeds, 1)

	producer := testenv.KafkaClient(t,
		kgo.TransactionalID(testenv.Name(t, "txn")),
		kgo.TransactionTimeout(30*time.Second),
	)
	inTransaction := func(commit kgo.TransactionEndTry, values ...string) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, v := range values {
			rec := &kgo.Record{Topic: topic, Value: []byte(v)}
			if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
		if err := producer.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction (commit=%v): %v", commit, err)
		}
	}
	inTransaction(kgo.TryCommit, "c1", "c2", "c3")
	inTransaction(kgo.TryAbort, "a1", "a2")
	inTransaction(kgo.TryCommit, "c4") // the last record: once read, all before it were

	committed := readUntil(ctx, t, seeds, topic, kgo.ReadCommitted(), "c4")
	if want := []string{"c1", "c2", "c3", "c4"}; !slices.Equal(committed, want) {
		t.Errorf("read_committed saw %q, want %q", committed, want)
	}
	uncommitted := readUntil(ctx, t, seeds, topic, kgo.ReadUncommitted(), "c4")
	if want := []string{"c1", "c2", "c3", "a1", "a2", "c4"}; !slices.Equal(uncommitted, want) {
		t.Errorf("read_uncommitted saw %q, want %q", uncommitted, want)
	}
}

// readUntil consumes partition 0 of topic from the start with the given
// isolation level and returns the values read up to and including last.
func readUntil(ctx context.Context, t *testing.T, seeds []string, topic string, level kgo.IsolationLevel, last string) []string {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(level),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cl.Close()
	var got []string
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %q before the deadline, never %q: %v", got, last, ctx.Err())
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
		for _, r := range fetches.Records() {
			got = append(got, string(r.Value))
			if string(r.Value) == last {
				return got
			}
		}
	}
}

// TestRedisRoundTrip checks plain commands and MULTI/EXEC on the real
// server, including a WATCH conflict that must abort the transaction.
func TestRedisRoundTrip(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	c, prefix := testenv.RedisDB(t)

	if err := c.Set(ctx, prefix+"greeting", "hello", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, prefix+"greeting").Result(); err != nil || got != "hello" {
		t.Fatalf("GET = %q, %v; want hello", got, err)
	}

	var incr1, incr2 *redis.IntCmd
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr1 = p.Incr(ctx, prefix+"version")
		incr2 = p.Incr(ctx, prefix+"version")
		p.Set(ctx, prefix+"state", "v2", 0)
		return nil
	}); err != nil {
		t.Fatalf("MULTI/EXEC: %v", err)
	}
	if incr1.Val() != 1 || incr2.Val() != 2 {
		t.Errorf("INCR inside MULTI returned %d, %d; want 1, 2", incr1.Val(), incr2.Val())
	}
	if got := c.Get(ctx, prefix+"state").Val(); got != "v2" {
		t.Errorf("state after EXEC = %q, want v2", got)
	}

	// Another connection changes a WATCHed key before EXEC: EXEC must fail
	// and the other connection's write must stand.
	other := testenv.Redis(t)
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		if err := tx.Get(ctx, prefix+"version").Err(); err != nil {
			return err
		}
		if err := other.Set(ctx, prefix+"version", "100", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, prefix+"version", "3", 0)
			return nil
		})
		return err
	}, prefix+"version")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Errorf("EXEC after a conflicting write: err %v, want redis.TxFailedErr", err)
	}
	if got := c.Get(ctx, prefix+"version").Val(); got != "100" {
		t.Errorf("version = %q, want the other client's 100", got)
	}
}

// TestRedisPrefixCleanup checks that a test's keys are gone after it ends
// and that keys outside its prefix are untouched.
func TestRedisPrefixCleanup(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	c, outer := testenv.RedisDB(t)
	if err := c.Set(ctx, outer+"keep", "1", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	var inner string
	t.Run("inner", func(t *testing.T) {
		var ic *redis.Client
		ic, inner = testenv.RedisDB(t)
		for _, k := range []string{"a", "b", "c:d"} {
			if err := ic.Set(ctx, inner+k, "x", time.Minute).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
		}
	})
	if n := c.Exists(ctx, inner+"a", inner+"b", inner+"c:d").Val(); n != 0 {
		t.Errorf("%d keys under %q survived their test", n, inner)
	}
	if n := c.Exists(ctx, outer+"keep").Val(); n != 1 {
		t.Errorf("a key outside the ended test's prefix was deleted")
	}
}
