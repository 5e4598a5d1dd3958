//go:build chaos

package chaos

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// readTopic reads topic from the start (read_committed) and returns its records once
// done(records so far) is true, or once two polls in a row return nothing (the topic is
// drained), or after timeout. Control records of transactions never show up as
// records, so "reached the end offset" cannot be used to stop.
func (s *stack) readTopic(topic string, timeout time.Duration, done func([]*kgo.Record) bool) []*kgo.Record {
	s.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	empty := 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if done != nil && done(out) {
			return out
		}
		if n > 0 {
			empty = 0
			continue
		}
		// Two empty polls after some records (three when the topic looked empty from
		// the start, to give a fresh client time to join) mean the topic is drained.
		empty++
		if done == nil && (empty >= 2 && len(out) > 0 || empty >= 3) {
			return out
		}
	}
	return out
}

// header returns the value of header key on r, and whether it was there.
func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
