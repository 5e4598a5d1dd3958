package router

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/claimable/eventrouter/internal/testenv"
)

// A router started before its ingest topics exist says, at WARN every interval, which
// ones it waits for; the list shrinks as they are created, and the warnings stop (with
// one INFO) once all exist.
func TestRouterWarnsWhichIngestTopicsItWaitsFor(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, tDeliveries, tInvalid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{c: c, seeds: c.ListenAddrs()}
	cfg := e.config("g-topic-wait")
	cfg.TopicWaitInterval = 100 * time.Millisecond
	core, logs := observer.New(zapcore.InfoLevel)
	r, err := New(cfg, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(e.seeds...)}, Matcher: newMatcher(t), Parser: newParser(t, 0)}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	waiting := func(missing ...string) func() bool {
		return func() bool {
			for _, l := range logs.FilterMessageSnippet("waiting for ingest topics").All() {
				if l.Level != zapcore.WarnLevel {
					continue
				}
				if got, ok := l.ContextMap()["missing"].([]any); ok && len(got) == len(missing) {
					same := true
					for i, m := range missing {
						same = same && got[i] == m
					}
					if same {
						return true
					}
				}
			}
			return false
		}
	}
	testenv.Eventually(t, testTimeout, "a WARN naming both ingest topics", waiting(tIngest, tIngest2))
	n := len(logs.FilterMessageSnippet("waiting for ingest topics").All())
	testenv.Eventually(t, testTimeout, "the WARN repeated after the interval", func() bool {
		return len(logs.FilterMessageSnippet("waiting for ingest topics").All()) > n
	})

	adm := kadm.NewClient(kgoClient(t, e))
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, tIngest); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, testTimeout, "a WARN naming only the missing topic", waiting(tIngest2))
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, tIngest2); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, testTimeout, "the INFO that every ingest topic is present", func() bool {
		return logs.FilterMessage("router ingest topics present").Len() == 1
	})
	n = len(logs.FilterMessageSnippet("waiting for ingest topics").All())
	time.Sleep(5 * cfg.TopicWaitInterval) // a window in which no WARN may come
	if after := len(logs.FilterMessageSnippet("waiting for ingest topics").All()); after != n {
		t.Errorf("%d more WARNs after every topic exists, want none", after-n)
	}
}

func kgoClient(t *testing.T, e *env) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
