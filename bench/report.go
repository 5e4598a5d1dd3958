package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
)

// Report is one invocation of the benchmark: the broker warm-up, then the same scenario
// run N times, with the median and spread of every headline figure. Targets are judged
// on the medians, and not at all when any run was disturbed.
type Report struct {
	Scenario string       `json:"scenario"`
	WarmUp   BrokerWarmUp `json:"broker_warm_up"`
	Runs     []*Result    `json:"runs"`
	Summary  Summary      `json:"summary"`
	OK       bool         `json:"ok"`
	Failures []string     `json:"failures,omitempty"`
}

// Spread is a figure over the runs: median, lowest and highest.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summary holds each headline figure's spread over the runs.
type Summary struct {
	EventsPerSec      Spread `json:"events_per_s"`
	DeliveriesPerSec  Spread `json:"deliveries_per_s"`
	HTTPPostsPerSec   Spread `json:"baseline_http_posts_per_s"`
	DeliveriesVsHTTP  Spread `json:"deliveries_vs_http"`
	PassthroughPerSec Spread `json:"baseline_passthrough_records_per_s"`
	P50               Spread `json:"p50_ms"`
	P99               Spread `json:"p99_ms"`
	Max               Spread `json:"max_ms"`
	PassthroughP99    Spread `json:"baseline_passthrough_p99_ms"`
	LeadInP99         Spread `json:"lead_in_p99_ms"` // untimed, before each window
	P99VsPassthrough  Spread `json:"p99_vs_passthrough"`
	CPUPerDeliveryMS  Spread `json:"cpu_per_delivery_ms"`
	MachineBusy       Spread `json:"machine_busy"`
	OtherCPUShare     Spread `json:"other_cpu_share"`
	LoadAvgStart      Spread `json:"load_avg_start"`
	// GroupP99 is the hanging scenario's per-group p99 (healthy before / during).
	GroupP99 map[string]Spread `json:"group_p99_ms,omitempty"`
	// FirstVsRest is run 1's headline figure (deliveries/s flat out, p99 at a steady
	// rate) divided by the median of the other runs: how far a first run after the
	// services start is from the warm ones (0 with fewer than two runs).
	FirstVsRest float64 `json:"first_vs_rest"`
	// Targets are judged on the medians.
	Targets []Target `json:"targets"`
	// Disturbed lists, per disturbed run, why; any entry means no target is judged.
	Disturbed []string `json:"disturbed,omitempty"`
}

// Repeat warms the broker (WarmBroker, then an untimed run of the scenario for c.WarmUp:
// see DefaultWarmUp), then runs c n times (at least once) and summarises. The
// error wraps ErrLost when any run lost a delivery or failed a signature (the Report is
// complete then too); other errors mean a run could not be carried out.
func Repeat(ctx context.Context, c Config, n int, roleLog io.Writer, log *zap.Logger) (*Report, error) {
	if log == nil {
		log = zap.NewNop()
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Scenario: c.Scenario}
	w, err := WarmBroker(ctx, c.Brokers)
	if err != nil {
		return nil, err
	}
	if c.WarmUp > 0 {
		t := time.Now()
		wc := c
		wc.Duration, wc.Baselines, wc.Hanging, wc.RestartSender = c.WarmUp, false, false, false
		res, err := Run(ctx, wc, roleLog, log)
		if err != nil {
			return nil, fmt.Errorf("bench: warm-up run: %w", err)
		}
		w.RunSeconds, w.RunDeliveries = time.Since(t).Seconds(), res.Counts.Delivered
	}
	w.Seconds = time.Since(start).Seconds()
	rep.WarmUp = w
	log.Info("warmed up", zap.Float64("seconds", w.Seconds), zap.Float64("run_seconds", w.RunSeconds),
		zap.Int("run_deliveries", w.RunDeliveries))
	for i := range max(n, 1) {
		res, err := Run(ctx, c, roleLog, log)
		if res == nil {
			return nil, fmt.Errorf("bench: run %d of %d: %w", i+1, n, err)
		}
		if err != nil && !errors.Is(err, ErrLost) {
			return nil, fmt.Errorf("bench: run %d of %d: %w", i+1, n, err)
		}
		rep.Runs = append(rep.Runs, res)
		log.Info("bench run done", zap.Int("run", i+1), zap.Float64("deliveries_per_s", res.DeliveriesPerSec),
			zap.Float64("p99_ms", res.Latency.P99), zap.Bool("disturbed", res.Disturbance.Disturbed()))
	}
	rep.summarise()
	if !rep.OK {
		return rep, fmt.Errorf("%w: %s", ErrLost, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// spread summarises f over runs.
func spread(runs []*Result, f func(*Result) float64) Spread {
	vs := make([]float64, 0, len(runs))
	for _, r := range runs {
		vs = append(vs, f(r))
	}
	return spreadOf(vs)
}

// spreadOf returns the median (the mean of the two middle values for an even count),
// minimum and maximum of vs.
func spreadOf(vs []float64) Spread {
	if len(vs) == 0 {
		return Spread{}
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	med := vs[n/2]
	if n%2 == 0 {
		med = (vs[n/2-1] + vs[n/2]) / 2
	}
	return Spread{Median: med, Min: vs[0], Max: vs[n-1]}
}

func (rep *Report) summarise() {
	runs := rep.Runs
	s := &rep.Summary
	s.EventsPerSec = spread(runs, func(r *Result) float64 { return r.EventsPerSec })
	s.DeliveriesPerSec = spread(runs, func(r *Result) float64 { return r.DeliveriesPerSec })
	s.DeliveriesVsHTTP = spread(runs, func(r *Result) float64 { return r.Ratios.DeliveriesVsHTTP })
	s.P50 = spread(runs, func(r *Result) float64 { return r.Latency.P50 })
	s.P99 = spread(runs, func(r *Result) float64 { return r.Latency.P99 })
	s.Max = spread(runs, func(r *Result) float64 { return r.Latency.Max })
	if runs[0].LeadIn != nil {
		s.LeadInP99 = spread(runs, func(r *Result) float64 {
			if r.LeadIn == nil {
				return 0
			}
			return r.LeadIn.Latency.P99
		})
	}
	s.P99VsPassthrough = spread(runs, func(r *Result) float64 { return r.Ratios.P99VsPassthrough })
	s.CPUPerDeliveryMS = spread(runs, func(r *Result) float64 { return r.CPUPerDeliveryMS })
	s.MachineBusy = spread(runs, func(r *Result) float64 { return r.MachineBusy })
	s.OtherCPUShare = spread(runs, func(r *Result) float64 { return r.Disturbance.OtherCPUShare })
	s.LoadAvgStart = spread(runs, func(r *Result) float64 { return r.LoadAvg[0] })
	haveHTTP, havePT := true, true
	for _, r := range runs {
		haveHTTP = haveHTTP && r.HTTP != nil
		havePT = havePT && r.Passthrough != nil
	}
	if haveHTTP {
		s.HTTPPostsPerSec = spread(runs, func(r *Result) float64 { return r.HTTP.PostsPerSec })
	}
	if havePT {
		s.PassthroughPerSec = spread(runs, func(r *Result) float64 { return r.Passthrough.RecordsPerSec })
		s.PassthroughP99 = spread(runs, func(r *Result) float64 { return r.Passthrough.Latency.P99 })
	}
	for _, g := range []string{groupHealthyBefore, groupHealthyDuring} {
		if _, ok := runs[0].LatencyGroups[g]; ok {
			if s.GroupP99 == nil {
				s.GroupP99 = map[string]Spread{}
			}
			s.GroupP99[g] = spread(runs, func(r *Result) float64 { return r.LatencyGroups[g].P99 })
		}
	}
	headline := func(r *Result) float64 { return r.DeliveriesPerSec }
	if runs[0].Settings.Rate > 0 {
		headline = func(r *Result) float64 { return r.Latency.P99 }
	}
	if len(runs) > 1 {
		if rest := spread(runs[1:], headline); rest.Median > 0 {
			s.FirstVsRest = headline(runs[0]) / rest.Median
		}
	}
	rep.OK, rep.Failures, s.Disturbed = true, nil, nil
	for i, r := range runs {
		for _, f := range r.Failures {
			rep.Failures = append(rep.Failures, fmt.Sprintf("run %d: %s", i+1, f))
		}
		rep.OK = rep.OK && r.OK
		for _, reason := range r.Disturbance.Reasons {
			s.Disturbed = append(s.Disturbed, fmt.Sprintf("run %d: %s", i+1, reason))
		}
	}
	s.Targets = targets(runs[0].Settings, s.CPUPerDeliveryMS.Median, s.DeliveriesVsHTTP.Median, s.P99.Median,
		s.P99VsPassthrough.Median, haveHTTP, havePT)
	judgeTargets(s.Targets, len(s.Disturbed) > 0)
}

// WriteJSON writes rep, indented, to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints every run's table, then the summary: each figure as
// median [min–max] over the runs, and the targets judged on the medians.
func (rep *Report) WriteTable(w io.Writer) error {
	for i, r := range rep.Runs {
		if _, err := fmt.Fprintf(w, "== run %d of %d\n", i+1, len(rep.Runs)); err != nil {
			return err
		}
		if err := r.WriteTable(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	s := rep.Summary
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	p("== summary of %d run(s) of %s: median [min–max]; warmed up in %.1fs before the first (untimed run: %d deliveries)",
		len(rep.Runs), orDash(rep.Scenario), rep.WarmUp.Seconds, rep.WarmUp.RunDeliveries)
	row := func(name, format string, sp Spread) {
		if sp == (Spread{}) {
			return
		}
		p("%s\t"+format+" ["+format+"–"+format+"]", name, sp.Median, sp.Min, sp.Max)
	}
	row("events/s in", "%.0f", s.EventsPerSec)
	row("deliveries/s out", "%.0f", s.DeliveriesPerSec)
	row("raw HTTP posts/s", "%.0f", s.HTTPPostsPerSec)
	row("deliveries vs raw HTTP", "%.2f", s.DeliveriesVsHTTP)
	row("raw passthrough records/s", "%.0f", s.PassthroughPerSec)
	row("latency p50 ms", "%.1f", s.P50)
	row("latency p99 ms", "%.1f", s.P99)
	row("latency max ms", "%.1f", s.Max)
	row("passthrough p99 ms", "%.1f", s.PassthroughP99)
	row("lead-in p99 ms (untimed)", "%.1f", s.LeadInP99)
	row("p99 vs passthrough p99", "%.2f", s.P99VsPassthrough)
	for _, g := range []string{groupHealthyBefore, groupHealthyDuring} {
		if sp, ok := s.GroupP99[g]; ok {
			row(strings.ReplaceAll(g, "_", " ")+" p99 ms", "%.1f", sp)
		}
	}
	row("CPU per delivery ms", "%.3f", s.CPUPerDeliveryMS)
	row("machine CPU busy", "%.2f", s.MachineBusy)
	row("other processes' CPU share", "%.2f", s.OtherCPUShare)
	row("load average at start", "%.2f", s.LoadAvgStart)
	if s.FirstVsRest > 0 {
		p("first run vs the others\t%.2f× (deliveries/s flat out, p99 at a steady rate)", s.FirstVsRest)
	}
	for _, t := range s.Targets {
		p("target (median): %s %s\tgot %.3f\t%s", t.Name, t.Want, t.Got, t.Verdict)
	}
	for _, d := range s.Disturbed {
		p("DISTURBED: %s", d)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !rep.OK {
		_, err := fmt.Fprintf(w, "FAILED: %s\n", strings.Join(rep.Failures, "; "))
		return err
	}
	return nil
}
