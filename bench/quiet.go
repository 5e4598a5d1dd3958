package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Disturbance says whether anything besides the benchmark and its services competed
// for the machine during a run. A disturbed run's targets are not judged: its figures
// are reported, but "met" is never printed for them.
type Disturbance struct {
	// BusyBefore is the machine's busy share (0..1) over the settle sample taken just
	// before the run, after waiting up to settleWait for it to fall below
	// quietBusyBefore.
	BusyBefore float64 `json:"busy_before"`
	// OtherCPUShare is the CPU used during the measured window by processes other than
	// the benchmark, its roles, the Kafka broker and redis-server, as a share (0..1) of
	// the machine's capacity over that window.
	OtherCPUShare float64 `json:"other_cpu_share"`
	// Busiest names the other processes that used the most CPU in the window.
	Busiest []string `json:"busiest,omitempty"`
	// Reasons is empty for a quiet run.
	Reasons []string `json:"reasons,omitempty"`
}

// Disturbed reports whether the run's targets must not be judged.
func (d Disturbance) Disturbed() bool { return len(d.Reasons) > 0 }

const (
	// quietBusyBefore is the busiest the machine may be, before a run, while nothing of
	// the run executes yet: a broker deleting the previous run's topics settles below it
	// within seconds; a compiler or a test suite does not.
	quietBusyBefore = 0.25
	// quietOtherShare is the most CPU that unrelated processes may take during the
	// measured window (10 % of the machine: a fifth of a core on two cores).
	quietOtherShare = 0.10
	// settleSample and settleWait: how long one busy sample lasts before a run, and how
	// long to wait for the machine to settle.
	settleSample = 2 * time.Second
	settleWait   = 30 * time.Second
)

// settle waits until the machine's busy share over settleSample is at most
// quietBusyBefore, or settleWait passed, and returns the last share measured.
func settle(ctx context.Context) (float64, error) {
	deadline := time.Now().Add(settleWait)
	for {
		a := ReadCPUTimes()
		if err := sleepCtx(ctx, settleSample); err != nil {
			return 0, err
		}
		busy := BusyShare(a, ReadCPUTimes())
		if busy <= quietBusyBefore || time.Now().After(deadline) {
			return busy, nil
		}
	}
}

// procCPU is one process's accumulated CPU and name.
type procCPU struct {
	name string
	cpu  time.Duration
}

// scanProcs reads every process's accumulated CPU time from /proc.
func scanProcs() map[int]procCPU {
	out := map[int]procCPU{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		cpu, err := parseStatCPU(stat)
		if err != nil {
			continue
		}
		out[pid] = procCPU{name: procName(pid, stat), cpu: cpu}
	}
	return out
}

// procName is the command name of stat, or "kafka" / "redis" for the services the
// benchmark runs against.
func procName(pid int, stat []byte) string {
	s := string(stat)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "?"
	}
	name := s[open+1 : close]
	switch {
	case strings.HasPrefix(name, "redis-server"):
		return "redis"
	case name == "java":
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmd), "kafka.Kafka") {
			return "kafka"
		}
	}
	return name
}

// otherCPU returns the CPU used between the scans a and b by processes that are not
// in ours (the benchmark and its roles) and not the services, and the busiest of them.
func otherCPU(a, b map[int]procCPU, ours map[int]bool) (time.Duration, []string) {
	type use struct {
		name string
		cpu  time.Duration
	}
	var total time.Duration
	var uses []use
	for pid, pb := range b {
		if ours[pid] || pb.name == "kafka" || pb.name == "redis" {
			continue
		}
		d := pb.cpu
		if pa, ok := a[pid]; ok {
			d -= pa.cpu
		}
		if d <= 0 {
			continue
		}
		total += d
		uses = append(uses, use{fmt.Sprintf("%s[%d]", pb.name, pid), d})
	}
	// The three busiest, for the report.
	var top []string
	for range 3 {
		best := -1
		for i, u := range uses {
			if u.cpu >= 10*time.Millisecond && (best < 0 || u.cpu > uses[best].cpu) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		top = append(top, fmt.Sprintf("%s %.1fs", uses[best].name, uses[best].cpu.Seconds()))
		uses = append(uses[:best], uses[best+1:]...)
	}
	return total, top
}

// judge fills d.Reasons from the measurements.
func (d *Disturbance) judge() {
	d.Reasons = nil
	if d.BusyBefore > quietBusyBefore {
		d.Reasons = append(d.Reasons, fmt.Sprintf("machine %.0f %% busy before the run (quiet: ≤ %.0f %%)", d.BusyBefore*100, quietBusyBefore*100))
	}
	if d.OtherCPUShare > quietOtherShare {
		r := fmt.Sprintf("other processes took %.0f %% of the machine during the run (quiet: ≤ %.0f %%)", d.OtherCPUShare*100, quietOtherShare*100)
		if len(d.Busiest) > 0 {
			r += ": " + strings.Join(d.Busiest, ", ")
		}
		d.Reasons = append(d.Reasons, r)
	}
}
