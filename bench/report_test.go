package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestSpreadIsMedianMinMax(t *testing.T) {
	if got, want := spreadOf([]float64{30, 10, 20}), (Spread{Median: 20, Min: 10, Max: 30}); got != want {
		t.Errorf("odd count: %+v, want %+v", got, want)
	}
	if got, want := spreadOf([]float64{4, 1, 3, 2}), (Spread{Median: 2.5, Min: 1, Max: 4}); got != want {
		t.Errorf("even count: %+v, want %+v", got, want)
	}
	if got := spreadOf(nil); got != (Spread{}) {
		t.Errorf("empty: %+v", got)
	}
}

// steadyRun is a finished run at 2 000 events/s with the given p99, passthrough p99
// and share of the machine taken by other processes.
func steadyRun(p99, ptP99, other float64) *Result {
	r := &Result{
		Settings:    Settings{Rate: 2000},
		Latency:     Percentiles{Count: 1, P99: p99},
		Passthrough: &PassthroughResult{Latency: Percentiles{P99: ptP99}},
		HTTP:        &HTTPResult{},
		Counts:      Counts{Expected: 10, Delivered: 10},
		Roles:       []RoleUsage{{Role: "router", CPUSeconds: 0.001}},
		Disturbance: Disturbance{OtherCPUShare: other, BusyBefore: 0.05},
	}
	r.finish()
	return r
}

func verdicts(ts []Target) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[t.Name] = t.Verdict
	}
	return m
}

func TestQuietRunsAreJudgedOnTheMedian(t *testing.T) {
	// p99 40, 45, 300 ms: one bad run must not fail a median of 45 ms.
	rep := &Report{Runs: []*Result{steadyRun(300, 20, 0.01), steadyRun(40, 20, 0.02), steadyRun(45, 20, 0.0)}}
	rep.summarise()
	if rep.Summary.P99 != (Spread{Median: 45, Min: 40, Max: 300}) {
		t.Fatalf("p99 spread = %+v", rep.Summary.P99)
	}
	v := verdicts(rep.Summary.Targets)
	if v["end-to-end p99 at a steady rate (ms)"] != VerdictMet {
		t.Errorf("p99 target on the median 45 ms: %q, want met", v["end-to-end p99 at a steady rate (ms)"])
	}
	// 45 / 20 = 2.25 ≤ 5.
	if v["end-to-end p99 vs raw passthrough p99"] != VerdictMet {
		t.Errorf("p99 vs passthrough on the median: %q, want met", v["end-to-end p99 vs raw passthrough p99"])
	}
	// Run 1 (300 ms) against the median of the others (42.5 ms).
	if got := rep.Summary.FirstVsRest; got < 7.05 || got > 7.06 {
		t.Errorf("first vs rest = %.3f, want 300/42.5", got)
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "latency p99 ms") || !strings.Contains(out.String(), "45.0 [40.0–300.0]") {
		t.Errorf("summary table lacks the p99 median [min–max]:\n%s", out.String())
	}
}

func TestDisturbedRunIsNeverMet(t *testing.T) {
	// Every figure is inside its target, but in run 2 other processes took 40 % of the
	// machine: the summary must not say "met".
	rep := &Report{Runs: []*Result{steadyRun(20, 10, 0.01), steadyRun(22, 10, 0.40), steadyRun(21, 10, 0.0)}}
	rep.summarise()
	if !rep.Runs[1].Disturbance.Disturbed() || rep.Runs[0].Disturbance.Disturbed() {
		t.Fatalf("disturbance per run: %+v / %+v", rep.Runs[0].Disturbance, rep.Runs[1].Disturbance)
	}
	for _, tg := range rep.Summary.Targets {
		if tg.Verdict != VerdictNotJudged || tg.Met != true {
			t.Errorf("target %s: verdict %q (met %v), want not judged though the figure is inside", tg.Name, tg.Verdict, tg.Met)
		}
	}
	var out strings.Builder
	_ = rep.WriteTable(&out)
	_, summary, _ := strings.Cut(out.String(), "== summary")
	if strings.Contains(summary, " met\n") {
		t.Errorf("a disturbed report's summary printed met:\n%s", summary)
	}
	if !strings.Contains(out.String(), "DISTURBED: run 2: other processes took 40 %") {
		t.Errorf("the disturbance is not named:\n%s", out.String())
	}
}

func TestBusyMachineBeforeTheRunDisturbsIt(t *testing.T) {
	d := Disturbance{BusyBefore: 0.6}
	d.judge()
	if !d.Disturbed() || !strings.Contains(d.Reasons[0], "60 % busy before the run") {
		t.Errorf("reasons = %q", d.Reasons)
	}
	d = Disturbance{BusyBefore: 0.1, OtherCPUShare: 0.05}
	d.judge()
	if d.Disturbed() {
		t.Errorf("a quiet run is disturbed: %q", d.Reasons)
	}
}

func TestOtherCPUExcludesOursAndTheServices(t *testing.T) {
	a := map[int]procCPU{
		1: {"kafka", time.Second}, 2: {"redis", time.Second}, 3: {"eventrouter", time.Second},
		4: {"go", 2 * time.Second},
	}
	b := map[int]procCPU{
		1: {"kafka", 9 * time.Second}, 2: {"redis", 5 * time.Second}, 3: {"eventrouter", 8 * time.Second},
		4: {"go", 5 * time.Second},          // +3 s: a compiler running beside the benchmark
		5: {"cc1", 1500 * time.Millisecond}, // started during the window: all of it counts
	}
	total, top := otherCPU(a, b, map[int]bool{3: true})
	if total != 4500*time.Millisecond {
		t.Errorf("other CPU = %v, want 4.5s (go 3s + cc1 1.5s)", total)
	}
	if len(top) != 2 || !strings.HasPrefix(top[0], "go[4] 3.0s") {
		t.Errorf("busiest = %q", top)
	}
}

func TestScanProcsFindsThisProcess(t *testing.T) {
	procs := scanProcs()
	if _, ok := procs[os.Getpid()]; !ok {
		t.Fatalf("scanProcs did not list this process (%d) among %d", os.Getpid(), len(procs))
	}
}

// TestTargetsFollowTheScenario: the steady-rate tail target is 50 ms, and 100 ms with
// 100 000 subscriptions (the subs100k row); flat out is judged against raw HTTP.
func TestTargetsFollowTheScenario(t *testing.T) {
	want := func(ts []Target, name, w string, met bool) {
		t.Helper()
		for _, tg := range ts {
			if tg.Name == name {
				if tg.Want != w || tg.Met != met {
					t.Errorf("%s: want %q met=%v, got %q met=%v", name, w, met, tg.Want, tg.Met)
				}
				return
			}
		}
		t.Errorf("%s: not judged", name)
	}
	p99 := "end-to-end p99 at a steady rate (ms)"
	want(targets(Settings{Rate: 2000, Subscriptions: 10}, 0.1, 0, 80, 2, false, true), p99, "≤ 50", false)
	want(targets(Settings{Rate: 2000, Subscriptions: 100_000}, 0.1, 0, 80, 2, false, true), p99, "≤ 100", true)
	want(targets(Settings{Rate: 0, Subscriptions: 10}, 0.1, 0.45, 300, 0, true, false), "deliveries/s flat out vs raw HTTP ceiling", "≥ 0.40", true)
	cpu := "CPU per delivery, all roles (ms)"
	want(targets(Settings{Rate: 2000, Subscriptions: 10}, 0.25, 0, 40, 2, false, true), cpu, "≤ 0.2", false)

	// A hanging endpoint's timed-out attempts and a restart's start-up are in those
	// scenarios' CPU by construction: the CPU target is not judged there.
	for _, s := range []Settings{{Rate: 1000, Subscriptions: 10, Hanging: true}, {Rate: 1000, Subscriptions: 10, RestartSender: true}} {
		for _, tg := range targets(s, 0.3, 0, 40, 2, false, true) {
			if tg.Name == cpu {
				t.Errorf("hanging %v, restart %v: CPU per delivery judged (%+v)", s.Hanging, s.RestartSender, tg)
			}
		}
	}
}

// The lead-in's latency is reported apart, per run and as a spread, and never enters
// the window's figures or the targets.
func TestLeadInIsReportedApartFromTheWindow(t *testing.T) {
	runs := []*Result{steadyRun(30, 20, 0), steadyRun(32, 20, 0), steadyRun(34, 20, 0)}
	for i, r := range runs {
		r.LeadIn = &LeadInResult{Seconds: 1, Events: 2000, Latency: Percentiles{Count: 2000, P50: 20, P99: float64(70 + 10*i)}}
	}
	rep := &Report{Runs: runs}
	rep.summarise()
	if rep.Summary.LeadInP99 != (Spread{Median: 80, Min: 70, Max: 90}) {
		t.Errorf("lead-in p99 spread = %+v", rep.Summary.LeadInP99)
	}
	if rep.Summary.P99 != (Spread{Median: 32, Min: 30, Max: 34}) {
		t.Errorf("window p99 spread = %+v: the lead-in must not enter it", rep.Summary.P99)
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lead-in p99 ms (untimed)  70.0 (p50 20.0; 2000 events over 1.0s", "80.0 [70.0–90.0]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
