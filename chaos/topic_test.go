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
		if n == 0 && len(out) > 0 || n == 0 && fs.IsClientClosed() {
			if empty++; empty >= 2 && done == nil {
				return out
			}
		} else if n == 0 {
			if empty++; empty >= 3 && done == nil {
				return out // nothing in the topic at all
			}
		} else {
			empty = 0
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
