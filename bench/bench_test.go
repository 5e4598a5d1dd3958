package bench

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
)

func TestPercentileNearestRank(t *testing.T) {
	sample := make([]time.Duration, 100)
	for i := range sample {
		sample[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{{0, 1 * time.Millisecond}, {0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond}, {0.999, 100 * time.Millisecond}, {1, 100 * time.Millisecond}}
	for _, c := range cases {
		if got := Percentile(sample, c.q); got != c.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Percentile(nil, 0.99); got != 0 {
		t.Errorf("Percentile(empty) = %v, want 0", got)
	}
	if got := Percentile([]time.Duration{7}, 0.5); got != 7 {
		t.Errorf("Percentile(single) = %v, want 7", got)
	}
}

func TestSummariseSortsAndReportsMilliseconds(t *testing.T) {
	s := Summarise([]time.Duration{30 * time.Millisecond, 1500 * time.Microsecond, 10 * time.Millisecond, 20 * time.Millisecond})
	want := Percentiles{Count: 4, P50: 10, P90: 30, P99: 30, Max: 30}
	if s != want {
		t.Errorf("Summarise = %+v, want %+v", s, want)
	}
}

func TestLedgerCountsLostDuplicatesAndExcused(t *testing.T) {
	l := NewLedger(nil)
	now := time.Now()
	l.Expect("a", "healthy", false)
	l.Expect("b", "healthy", false)
	l.Expect("c", "healthy", false)
	l.Expect("h", "hanging", true)
	l.Expect("a", "healthy", false) // expecting twice changes nothing

	l.Observe("a", true, true, now, 5*time.Millisecond)
	l.Observe("a", true, true, now, 9*time.Millisecond)  // duplicate: same webhook-id again
	l.Observe("b", true, false, now, 1*time.Millisecond) // 503: not delivered yet
	l.Observe("b", true, true, now, 7*time.Millisecond)  // retried, delivered
	l.Observe("zz", true, true, now, time.Millisecond)   // nobody expected it
	l.Observe("c", false, false, now, time.Millisecond)  // bad signature, rejected

	c := l.Counts()
	want := Counts{Expected: 4, Excused: 1, Delivered: 2, Lost: 1, Duplicates: 1, Unexpected: 1, BadSig: 1, Rejected: 2}
	if c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
	if p := l.Pending(); p != 1 {
		t.Errorf("Pending = %d, want 1 (c; h is excused)", p)
	}
	all, groups := l.Latencies()
	if all.Count != 2 || all.Max != 7 || groups["healthy"].Count != 2 {
		t.Errorf("latencies: all %+v groups %+v; want the two first acceptances (5, 7 ms)", all, groups)
	}
	l.Observe("h", true, true, now, time.Second) // the excused one arrives after all
	if c := l.Counts(); c.Lost != 1 || c.Delivered != 3 {
		t.Errorf("after excused arrival: %+v", c)
	}
	if p := l.Pending(); p != 1 {
		t.Errorf("Pending after excused arrival = %d, want 1", p)
	}
}

func TestSeriesBucketsByArrival(t *testing.T) {
	start := time.Now()
	s := NewSeries(start, time.Second)
	s.Add(start.Add(100*time.Millisecond), 2*time.Millisecond)
	s.Add(start.Add(2500*time.Millisecond), 40*time.Millisecond)
	s.Add(start.Add(-time.Second), time.Hour) // before the start: ignored
	pts := s.Points()
	if len(pts) != 3 || pts[0].Count != 1 || pts[1].Count != 0 || pts[2].Count != 1 || pts[2].At != 2 || pts[2].P99 != 40 {
		t.Errorf("Points = %+v", pts)
	}
}

func TestReadProcOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	// Burn some CPU so utime+stime is certainly non-zero at 10 ms resolution.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU <= 0 || s.PeakRSS < 1<<20 || s.RSS <= 0 || s.RSS > s.PeakRSS {
		t.Errorf("ReadProc(self) = %+v (spun %d times)", s, x)
	}
	if _, err := ReadProc(1 << 30); !errors.Is(err, ErrNoProc) {
		t.Errorf("ReadProc(no such pid) error = %v, want ErrNoProc", err)
	}
}

func TestParseStatCommandWithParentheses(t *testing.T) {
	// A command name may contain ") " itself; fields count from the last ')'.
	stat := []byte("42 (evil) name) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s (250+50 ticks)", cpu, err)
	}
	if _, err := parseStatCPU([]byte("42 (x) S 1")); !errors.Is(err, ErrNoProc) {
		t.Errorf("short stat: error %v, want ErrNoProc", err)
	}
	if _, _, err := parseStatusMemory([]byte("Name:\tkthreadd\nState:\tS\n")); !errors.Is(err, ErrNoProc) {
		t.Errorf("status without VmHWM: error %v, want ErrNoProc", err)
	}
}

func TestPlotWritesValidPNG(t *testing.T) {
	pts := []Point{
		{At: 0, Percentiles: Percentiles{Count: 10, P50: 3, P90: 5, P99: 8, Max: 12}},
		{At: 0.5, Percentiles: Percentiles{}},
		{At: 1, Percentiles: Percentiles{Count: 10, P50: 40, P90: 300, P99: 900, Max: 2000}},
	}
	var buf bytes.Buffer
	if err := PlotLatency(&buf, pts, []Mark{{At: 0.7, What: "sender SIGTERM"}}, 640, 360); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Errorf("size %v, want 640x360", b)
	}
	// The p99 line is drawn: some pixel has its colour.
	found := false
	for y := 0; y < 360 && !found; y++ {
		for x := 0; x < 640; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r>>8 == 0xd6 && g>>8 == 0x27 && b>>8 == 0x28 {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no p99 (red) pixel in the plot")
	}
	if err := PlotLatency(&buf, pts, nil, 10, 10); err == nil {
		t.Error("a 10x10 plot was accepted")
	}
}

func TestConfigValidateNamesFlags(t *testing.T) {
	c := Config{Binary: "x", Subscriptions: 10, Accounts: 3, FailureRate: 1.5, Rate: -1, IngestLinger: -time.Millisecond,
		LeadIn: -time.Second, RoleEnv: []string{"EVENTROUTER_LOG_LEVEL=debug", "PATH=/tmp"}}.Defaults()
	err := c.Validate()
	for _, flag := range []string{"--accounts", "--failure-rate", "--rate", "--ingest-linger", "--lead-in", `--role-env: "PATH=/tmp"`} {
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("Validate() = %v; want it to name %s", err, flag)
		}
	}
	good := Config{Binary: "x"}
	if err := ApplyScenario(&good, "throughput-fanout5"); err != nil {
		t.Fatal(err)
	}
	if err := good.Defaults().Validate(); err != nil {
		t.Errorf("throughput-fanout5 preset invalid: %v", err)
	}
	if err := ApplyScenario(&good, "nope"); err == nil || !strings.Contains(err.Error(), "--scenario") {
		t.Errorf("unknown scenario: %v", err)
	}
}

func TestSeedPlanFanout(t *testing.T) {
	account, matches := seedPlan(100, 10, 3)
	perAccount := map[int]int{}
	for i := range account {
		if matches[i] {
			perAccount[account[i]]++
		}
	}
	if len(perAccount) != 10 {
		t.Fatalf("accounts with matching subscriptions: %d, want 10", len(perAccount))
	}
	for a, n := range perAccount {
		if n != 3 {
			t.Errorf("account %d: %d matching subscriptions, want fan-out 3", a, n)
		}
	}
}

func TestEventGenBodySize(t *testing.T) {
	g := newEventGen("r1", 1024)
	for _, seq := range []int{0, 7, 123456} {
		e := g.event(seq, accountID("r1", seq%10), time.Now())
		if n := len(events.Render(e)); n < 1000 || n > 1050 {
			t.Errorf("seq %d: body %d bytes, want about 1024", seq, n)
		}
	}
}

// TestLogTailKeepsTheEnd: a role's kept output is the last logTailMax bytes, so the
// reason it exited (printed last) survives a long log.
func TestLogTailKeepsTheEnd(t *testing.T) {
	var lt logTail
	if got := lt.String(); got != "(nothing)" {
		t.Fatalf("empty tail = %q", got)
	}
	for range 1000 {
		_, _ = lt.Write([]byte("starting up, all is well\n"))
	}
	_, _ = lt.Write([]byte("config: router.workers: must be 0..256 (got -1)\n"))
	got := lt.String()
	if len(got) > logTailMax || !strings.HasSuffix(got, "router.workers: must be 0..256 (got -1)") {
		t.Fatalf("tail (%d bytes) = …%q", len(got), got[max(0, len(got)-80):])
	}
}

// The generator produces as an upstream service's client would by default (5 ms
// linger), unless told otherwise, and a run records which linger it used.
func TestIngestLingerDefaultsAndIsRecorded(t *testing.T) {
	c := Config{Binary: "x"}.Defaults()
	if c.IngestLinger != DefaultIngestLinger || DefaultIngestLinger != 5*time.Millisecond {
		t.Fatalf("default ingest linger = %s, want 5ms", c.IngestLinger)
	}
	if got := newResult(c, "r").Settings.IngestLinger; got != 5 {
		t.Errorf("settings ingest_linger_ms = %v, want 5", got)
	}
	c = Config{Binary: "x", IngestLinger: time.Millisecond}.Defaults()
	if got := newResult(c, "r").Settings.IngestLinger; got != 1 {
		t.Errorf("settings ingest_linger_ms = %v with --ingest-linger 1ms, want 1", got)
	}
}
