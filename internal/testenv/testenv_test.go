package testenv

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// outcomeTB records how a helper ended a test instead of ending this one.
// Fatal and Skip stop the calling goroutine, as the real ones do.
type outcomeTB struct {
	testing.TB
	fatal   string
	skipped bool
}

func (o *outcomeTB) Fatalf(format string, args ...any) {
	o.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (o *outcomeTB) Fatal(args ...any)                 { o.Fatalf("%s", fmt.Sprint(args...)) }
func (o *outcomeTB) FailNow()                          { o.Fatalf("FailNow") }
func (o *outcomeTB) Skip(...any)                       { o.SkipNow() }
func (o *outcomeTB) Skipf(string, ...any)              { o.SkipNow() }
func (o *outcomeTB) SkipNow()                          { o.skipped = true; runtime.Goexit() }
func (o *outcomeTB) Errorf(format string, args ...any) { o.fatal = fmt.Sprintf(format, args...) }

// run calls f on a goroutine, as the testing package runs a test, and waits.
func (o *outcomeTB) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(o)
	}()
	<-done
}

func TestUnreachableServicesFailTheTest(t *testing.T) {
	// Port 1 on loopback: nothing listens, connections are refused at once.
	t.Setenv(EnvKafka, "127.0.0.1:1")
	t.Setenv(EnvRedis, "127.0.0.1:1")
	old := probeTimeout
	probeTimeout = 500 * time.Millisecond
	t.Cleanup(func() { probeTimeout = old })

	helpers := map[string]func(testing.TB){
		"Kafka":       func(tb testing.TB) { Kafka(tb) },
		"KafkaClient": func(tb testing.TB) { KafkaClient(tb) },
		"Redis":       func(tb testing.TB) { Redis(tb) },
		"RedisDB":     func(tb testing.TB) { RedisDB(tb) },
	}
	for name, helper := range helpers {
		t.Run(name, func(t *testing.T) {
			o := &outcomeTB{TB: t}
			start := time.Now()
			o.run(helper)
			if o.skipped {
				t.Fatal("skipped the test; an unreachable service must fail it")
			}
			if o.fatal == "" {
				t.Fatal("returned normally although nothing listens on 127.0.0.1:1")
			}
			if !strings.Contains(o.fatal, "make services-up") || !strings.Contains(o.fatal, "127.0.0.1:1") {
				t.Errorf("failure message lacks the address or the hint: %q", o.fatal)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to fail; the probe is bounded by %s", d, probeTimeout)
			}
		})
	}
}

func TestNameIsUniqueAndSafe(t *testing.T) {
	valid := regexp.MustCompile(`^topic-[A-Za-z0-9-]+-[0-9a-f]{8}$`)
	t.Run("with spaces/slashes.and_dots", func(t *testing.T) {
		a, b := Name(t, "topic"), Name(t, "topic")
		if a == b {
			t.Fatalf("two calls returned the same name %q", a)
		}
		for _, n := range []string{a, b} {
			if !valid.MatchString(n) || len(n) > 249 {
				t.Errorf("name %q is not a safe Kafka topic name", n)
			}
		}
	})
}

func TestKafkaSeedsParsesList(t *testing.T) {
	t.Setenv(EnvKafka, " a:1, b:2 ,,")
	got := KafkaSeeds()
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("KafkaSeeds() = %q, want [a:1 b:2]", got)
	}
	t.Setenv(EnvKafka, "")
	if got := KafkaSeeds(); len(got) != 1 || got[0] != DefaultKafka {
		t.Fatalf("KafkaSeeds() with env unset = %q, want [%s]", got, DefaultKafka)
	}
}
