//go:build integration

package bench_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/bench"
	"github.com/claimable/eventrouter/internal/testenv"
)

// buildBinary builds the eventrouter binary the run starts as its role processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eventrouter")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/eventrouter").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSmoke runs a 5-second scenario against the real services: nothing may be lost,
// every signature must verify, and the JSON result carries every figure.
func TestSmoke(t *testing.T) {
	seeds := testenv.Kafka(t)
	testenv.Redis(t)
	ctx := testenv.Context(t, 4*time.Minute)
	c := bench.Config{
		Binary: buildBinary(t), Brokers: seeds, RedisAddr: testenv.RedisAddr(),
		Duration: 5 * time.Second, Rate: 300, Subscriptions: 20, Accounts: 10, Fanout: 2,
		FailureRate: 0.02, Baselines: true, Drain: 45 * time.Second, LeadIn: time.Second,
	}
	if err := bench.ApplyScenario(&c, ""); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "roles.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	res, err := bench.Run(ctx, c, logf, zap.NewNop())
	if err != nil {
		if b, rerr := os.ReadFile(logf.Name()); rerr == nil {
			t.Logf("role logs:\n%s", tail(b, 4000))
		}
		t.Fatalf("run: %v", err)
	}
	var table strings.Builder
	_ = res.WriteTable(&table)
	t.Logf("\n%s", table.String())
	if res.Counts.Lost != 0 || res.Counts.BadSig != 0 || !res.OK {
		t.Fatalf("lost=%d bad signatures=%d failures=%v", res.Counts.Lost, res.Counts.BadSig, res.Failures)
	}
	wantDeliveries := res.EventsIn * 2
	if res.Counts.Delivered != wantDeliveries {
		t.Errorf("delivered %d, want %d (events in %d × fan-out 2)", res.Counts.Delivered, wantDeliveries, res.EventsIn)
	}
	if res.Latency.Count == 0 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("latency = %+v", res.Latency)
	}
	// The lead-in ran before the window, at the run's rate, and every one of its
	// deliveries arrived; none of them is counted in the window's figures.
	if li := res.LeadIn; li == nil || li.Events < 150 || li.Latency.Count != li.Events*2 || li.Latency.P99 < li.Latency.P50 {
		t.Errorf("lead-in = %+v; want about 300 events (1 s at 300/s), each delivered to 2 subscriptions", li)
	}
	if len(res.Roles) != 2 || res.Roles[0].PeakRSSMiB <= 0 || res.Roles[1].CPUSeconds <= 0 {
		t.Errorf("roles = %+v", res.Roles)
	}
	if res.HTTP == nil || res.HTTP.PostsPerSec <= 0 || res.Passthrough == nil || res.Passthrough.RecordsPerSec <= 0 {
		t.Errorf("baselines: http %+v passthrough %+v", res.HTTP, res.Passthrough)
	}

	path := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "run_id", "settings", "machine", "events_in", "events_per_s",
		"deliveries_per_s", "latency", "counts", "roles", "cpu_per_delivery_ms", "baseline_passthrough",
		"baseline_http", "ratios", "targets", "series", "ok", "lead_in"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON result has no %q", k)
		}
	}
	lat := m["latency"].(map[string]any)
	for _, k := range []string{"p50_ms", "p90_ms", "p99_ms", "max_ms"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("JSON latency has no %q", k)
		}
	}
	counts := m["counts"].(map[string]any)
	for _, k := range []string{"lost", "duplicates", "bad_signatures", "expected", "delivered"} {
		if _, ok := counts[k]; !ok {
			t.Errorf("JSON counts has no %q", k)
		}
	}
	if r := m["ratios"].(map[string]any); r["deliveries_vs_http"].(float64) <= 0 {
		t.Errorf("ratio deliveries_vs_http = %v", r["deliveries_vs_http"])
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestWarmBrokerLeavesTheInternalTopicsReady: after WarmBroker the broker has its
// transaction-state and consumer-offsets topics (created by the warm-up on a fresh
// broker, outside any timed window), and the warm-up's own topic is gone.
func TestWarmBrokerLeavesTheInternalTopicsReady(t *testing.T) {
	seeds := testenv.Kafka(t)
	ctx := testenv.Context(t, 3*time.Minute)
	w, err := bench.WarmBroker(ctx, seeds)
	if err != nil {
		t.Fatalf("WarmBroker: %v", err)
	}
	if w.Seconds <= 0 || w.TxnSeconds <= 0 || w.GroupSeconds <= 0 {
		t.Errorf("warm-up timings not recorded: %+v", w)
	}
	adm := testenv.KafkaAdmin(t)
	tds, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"__transaction_state", "__consumer_offsets"} {
		if !tds.Has(name) {
			t.Errorf("%s missing after the warm-up", name)
		}
	}
	// A deleted topic leaves the broker's metadata a moment after DeleteTopics returns.
	testenv.Eventually(t, 30*time.Second, "the warm-up's topics deleted", func() bool {
		tds, err := adm.ListTopics(ctx)
		if err != nil {
			return false
		}
		for _, td := range tds {
			if strings.HasPrefix(td.Topic, "bench-warm-") {
				return false
			}
		}
		return true
	})
}
