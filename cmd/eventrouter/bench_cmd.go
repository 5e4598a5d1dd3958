package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "End-to-end load benchmark against real Kafka and Redis, beside raw baselines",
		Long: `Drives the whole system against the Kafka broker and Redis of the configuration
(kafka.brokers, redis.addr): seeds subscriptions, starts the router and the sender as
separate processes of this binary, produces events at --rate (0: flat out), and receives
them on a local endpoint that verifies every signature and counts by webhook-id. Then it
runs the raw baselines — a franz-go passthrough through the same broker and plain HTTP
POSTs of the same bodies at the same concurrency to the same receiver — and prints every
figure beside its baseline as a ratio. Everything a run creates (topics "bench-<id>.*",
Redis keys "bench:<id>:*") is deleted at the end.

Before the first run it warms the broker: one transaction and one consumer-group commit
on a throwaway topic, so a fresh broker's internal topics are created outside the timed
window, then an untimed run of the scenario producing for --warm-up (its deliveries are
still checked), so a freshly started broker's JIT has compiled the paths the timed runs
use. Then it runs the scenario --runs times (default 3) and prints each run and a
summary. Each run starts new role processes on new topics and, before its measured
window, produces at its own pace for --lead-in (default 1s; untimed, every delivery
still checked, its latency printed apart): a pipeline's first load after starting is
slower, and the window measures the pipeline carrying load. The raw passthrough gets the
same lead-in. The summary shows every figure as median [min–max], the targets judged on
the medians. Before each run's window it waits (up to 30s) for the machine to settle;
a run during which other processes took more than 10 % of the machine, or that started
on a machine more than 25 % busy, is reported as disturbed and no target is judged
("met" is never printed for it).

Exits 1 if any expected delivery was lost or a signature failed verification; a missed
performance target is reported, not failed.

Scenarios: ` + strings.Join(bench.Scenarios(), ", ") + `; flags set explicitly override them.

  eventrouter bench --scenario throughput --duration 10s --json throughput.json
  eventrouter bench --scenario restart --plot latency-restart.png
  eventrouter bench --rate 500 --subscriptions 20 --accounts 10 --fanout 2 --failure-rate 0.05`,
		Args: cobra.NoArgs,
		RunE: runBench,
	}
	f := cmd.Flags()
	f.String("scenario", "", "preset: "+strings.Join(bench.Scenarios(), ", "))
	f.Float64("rate", 0, "events per second (0: flat out)")
	f.Duration("duration", 0, "how long to produce (default 10s)")
	f.Int("subscriptions", 0, "subscriptions, spread evenly over --accounts (default 10)")
	f.Int("accounts", 0, "accounts (default: one per subscription)")
	f.Int("fanout", 0, "matching subscriptions per event (default 1)")
	f.Int("body-bytes", 0, "webhook body size (default 1024)")
	f.Duration("receiver-latency", 0, "delay of every receiver answer")
	f.Float64("failure-rate", 0, "share of requests the receiver answers 503 (0..1)")
	f.Duration("ingest-linger", bench.DefaultIngestLinger, "the generator's producer linger, as an upstream service's Kafka client (the raw passthrough uses it too; 0: the default)")
	f.Int("partitions", 0, "partitions of every topic of the run (default 6)")
	f.Int("max-in-flight", 0, "concurrent requests per subscription (default 16)")
	f.Int("window", 0, "flat out: most events produced but not yet delivered (default 2000)")
	f.Duration("drain", 0, "longest wait for outstanding deliveries after producing (default 60s)")
	f.Duration("warm-up", bench.DefaultWarmUp, "how long the untimed warm-up run of the scenario produces before the first timed run (0: none)")
	f.Duration("lead-in", bench.DefaultLeadIn, "how long each run produces at its own pace, untimed, before its measured window (its latency is reported apart; 0: none)")
	f.Int("runs", 3, "how many times to run the scenario (figures are reported as median [min–max])")
	f.Bool("baselines", true, "also run the raw passthrough and HTTP baselines")
	f.String("json", "", "also write the result as JSON to this file")
	f.String("plot", "", "also write latency over time (p50, p99, max; restarts marked) as a PNG to this file")
	f.String("binary", "", "eventrouter executable for the role processes (default: this one)")
	f.String("role-log", "", "file for the role processes' logs (default: discarded)")
	f.StringArray("set", nil, "a setting for the role processes, as KEY=VALUE of its EVENTROUTER_* variable (repeatable), e.g. --set EVENTROUTER_ROUTER_FETCH_MAX_WAIT=25ms")
	f.String("profile", "", "directory for CPU profiles of the harness and each role over every run's produce phase (roles run with ops.pprof)")
	f.Bool("keep", false, "keep the run's topics and Redis keys")
	return cmd
}

func runBench(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	f := cmd.Flags()
	var c bench.Config
	scenario, _ := f.GetString("scenario")
	if err := bench.ApplyScenario(&c, scenario); err != nil {
		return err
	}
	c.Brokers, c.RedisAddr = cfg.Kafka.Brokers, cfg.Redis.Addr
	if c.Binary, _ = f.GetString("binary"); c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: own executable: %w", err)
		}
	}
	changed := func(name string) bool { return f.Changed(name) }
	if changed("rate") {
		c.Rate, _ = f.GetFloat64("rate")
	}
	if changed("duration") {
		c.Duration, _ = f.GetDuration("duration")
	}
	ints := map[string]*int{"subscriptions": &c.Subscriptions, "accounts": &c.Accounts, "fanout": &c.Fanout,
		"body-bytes": &c.BodyBytes, "partitions": &c.Partitions, "max-in-flight": &c.MaxInFlight, "window": &c.Window}
	for name, p := range ints {
		if changed(name) {
			*p, _ = f.GetInt(name)
		}
	}
	if changed("receiver-latency") {
		c.ReceiverLatency, _ = f.GetDuration("receiver-latency")
	}
	if changed("failure-rate") {
		c.FailureRate, _ = f.GetFloat64("failure-rate")
	}
	c.IngestLinger, _ = f.GetDuration("ingest-linger")
	c.Drain, _ = f.GetDuration("drain")
	c.Baselines, _ = f.GetBool("baselines")
	c.Keep, _ = f.GetBool("keep")
	c.WarmUp, _ = f.GetDuration("warm-up")
	c.LeadIn, _ = f.GetDuration("lead-in")
	c.ProfileDir, _ = f.GetString("profile")
	sets, _ := f.GetStringArray("set")
	for _, kv := range sets {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "EVENTROUTER_") {
			return fmt.Errorf("bench: --set %q: want EVENTROUTER_<KEY>=<value>", kv)
		}
		c.RoleEnv = append(c.RoleEnv, kv)
	}

	var roleLog io.Writer = io.Discard
	if p, _ := f.GetString("role-log"); p != "" {
		lf, err := os.Create(p)
		if err != nil {
			return err
		}
		defer lf.Close()
		roleLog = lf
	}
	ctx, stop := signalContext()
	defer stop()
	runs, _ := f.GetInt("runs")
	rep, runErr := bench.Repeat(ctx, c, runs, roleLog, log)
	if rep == nil {
		return runErr
	}
	if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
		return err
	}
	if p, _ := f.GetString("json"); p != "" {
		if err := rep.WriteJSON(p); err != nil {
			return err
		}
	}
	if p, _ := f.GetString("plot"); p != "" {
		if err := writePlot(p, rep.Runs[len(rep.Runs)-1]); err != nil {
			return err
		}
	}
	return runErr // wraps bench.ErrLost when something was lost: exit status 1
}

// writePlot draws res's latency series to a PNG file at path.
func writePlot(path string, res *bench.Result) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.PlotLatency(out, res.Series, res.Marks, 800, 360); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
