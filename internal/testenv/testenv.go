// Package testenv connects integration tests to the real Kafka broker and
// redis-server started by `make services-up` (scripts/services-up.sh).
//
// Tests that use it carry the build tag `integration` and run with
//
//	make services-up
//	go test -tags integration -race -count=1 ./...
//
// Addresses come from EVENTROUTER_TEST_KAFKA (comma-separated seed brokers,
// default 127.0.0.1:9092) and EVENTROUTER_TEST_REDIS (default 127.0.0.1:6379).
// When a service does not answer within a few seconds the test FAILS (never
// skips) with a message saying how to start it: a green integration run must
// mean the integration tests ran.
//
// Isolation: the services are shared by every test and package, so nothing
// here wipes global state. Each test gets its own names instead: NewTopic
// creates a uniquely named topic and deletes it afterwards, RedisPrefix (and
// RedisDB) hand out a key prefix whose keys are deleted afterwards. Tests
// using these may run in parallel.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by this package, and their defaults.
const (
	EnvKafka     = "EVENTROUTER_TEST_KAFKA"
	EnvRedis     = "EVENTROUTER_TEST_REDIS"
	DefaultKafka = "127.0.0.1:9092"
	DefaultRedis = "127.0.0.1:6379"
)

// probeTimeout bounds how long Kafka and Redis wait for a service to answer
// before failing the test. A variable so this package's own tests can shorten it.
var probeTimeout = 5 * time.Second

// probeFailed records that a probe in this test binary has already waited
// the full probeTimeout in vain. Later probes then give up after 1.5 s, so a
// run with the services down fails each test quickly rather than after five
// seconds, yet passes again as soon as a service is back (a fault-injection
// test may stop and restart one).
var probeFailed sync.Map // probe key → struct{}

// probe calls try until it succeeds or probeTimeout passes (1.5 s once key
// has failed before), pausing 200 ms between attempts.
func probe(key string, try func(context.Context) error) error {
	timeout := probeTimeout
	if _, failed := probeFailed.Load(key); failed {
		timeout = min(timeout, 1500*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		err := try(ctx)
		if err == nil {
			probeFailed.Delete(key)
			return nil
		}
		// Keep the most telling error: "connection refused" beats the
		// deadline that cut the last attempt short.
		if last == nil || !errors.Is(err, context.DeadlineExceeded) {
			last = err
		}
		select {
		case <-ctx.Done():
			probeFailed.Store(key, struct{}{})
			return fmt.Errorf("no answer within %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startHint ends every "service unreachable" failure.
const startHint = "start them with make services-up"

// Name returns a name unique to this test run, safe as a Kafka topic, group
// or transactional id and as a Redis key part: kind, the test's name (reduced
// to [A-Za-z0-9-] and shortened), and 8 random hex digits, joined by '-'.
func Name(t testing.TB, kind string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 120 {
		name = name[:120]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on Linux
	return kind + "-" + name + "-" + hex.EncodeToString(rnd[:])
}

// Context returns a context canceled after d or when the test ends, whichever
// comes first. Every integration test should bound its work with one.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

// Eventually polls cond until it holds, and fails the test naming what was awaited if
// it does not within d. Deadlines should be generous: the machine may be busy. The
// pause between polls starts at 5 ms and grows to 100 ms, so a cheap condition is
// seen at once and one that asks a broker does not flood it. It is the one wait-until
// loop of the tests: call it from the test's goroutine (it may stop the test).
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
