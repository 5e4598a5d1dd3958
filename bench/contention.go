package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// ProcContention is one process's CPU over the measured window beside the time its
// threads spent runnable but waiting for a core (the run-queue wait of
// /proc/<pid>/task/*/schedstat). Wait well above a small share of CPU means the
// machine, not the process's own work, set its pace: on a 2-core machine the roles,
// the broker, Redis and the harness all queue for the same cores.
type ProcContention struct {
	Name        string  `json:"name"`
	Pid         int     `json:"pid"`
	CPUSeconds  float64 `json:"cpu_s"`
	WaitSeconds float64 `json:"runqueue_wait_s"`
	// JITSeconds is the part of CPUSeconds a JVM's JIT compiler threads used (the
	// broker's): compiling the broker's code is a start-up cost a long-running
	// production broker has paid long ago, so a window where it is large measured the
	// broker warming up as much as the pipeline. 0 for a Go process.
	JITSeconds float64 `json:"jit_cpu_s,omitempty"`
}

// schedSample is a process's summed thread CPU and run-queue wait, and the CPU of its
// JIT compiler threads.
type schedSample struct{ cpu, wait, jit time.Duration }

// readSched sums /proc/<pid>/task/*/schedstat: the first two fields are the nanoseconds
// a thread ran and waited on a run queue. Threads that exited are not counted (Go and
// the JVM keep theirs). ok is false when the process is gone or schedstats are off.
func readSched(pid int) (schedSample, bool) {
	return readSchedDir(fmt.Sprintf("/proc/%d/task", pid))
}

// readSchedDir is readSched on a task directory. A thread named as HotSpot names its
// compiler threads ("C1 CompilerThre", "C2 CompilerThre": comm keeps 15 bytes) counts
// in jit as well as in cpu.
func readSchedDir(dir string) (schedSample, bool) {
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return schedSample{}, false
	}
	var s schedSample
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		run, wait, ok := parseSchedstat(b)
		if !ok {
			continue
		}
		s.cpu += run
		s.wait += wait
		if comm, err := os.ReadFile(dir + "/" + t.Name() + "/comm"); err == nil && isJITThread(comm) {
			s.jit += run
		}
		n++
	}
	return s, n > 0
}

// isJITThread reports whether a thread's comm is a HotSpot compiler thread's.
func isJITThread(comm []byte) bool {
	return bytes.HasPrefix(comm, []byte("C1 Compiler")) || bytes.HasPrefix(comm, []byte("C2 Compiler"))
}

// parseSchedstat reads "<run ns> <wait ns> <timeslices>".
func parseSchedstat(b []byte) (run, wait time.Duration, ok bool) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(string(f[0]), 10, 64)
	w, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return time.Duration(r), time.Duration(w), true
}

// contentionWatch remembers the starting samples of the processes a run measures.
type contentionWatch struct {
	names map[int]string
	start map[int]schedSample
}

// watchContention samples pids (name by pid) now.
func watchContention(names map[int]string) *contentionWatch {
	w := &contentionWatch{names: names, start: map[int]schedSample{}}
	for pid := range names {
		if s, ok := readSched(pid); ok {
			w.start[pid] = s
		}
	}
	return w
}

// finish returns each watched process's CPU and run-queue wait since watchContention,
// by name then pid; a process gone meanwhile is left out.
func (w *contentionWatch) finish() []ProcContention {
	var out []ProcContention
	for pid, s0 := range w.start {
		s1, ok := readSched(pid)
		if !ok {
			continue
		}
		out = append(out, ProcContention{Name: w.names[pid], Pid: pid,
			CPUSeconds: (s1.cpu - s0.cpu).Seconds(), WaitSeconds: (s1.wait - s0.wait).Seconds(),
			JITSeconds: (s1.jit - s0.jit).Seconds()})
	}
	slices.SortFunc(out, func(a, b ProcContention) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return a.Pid - b.Pid
	})
	return out
}

// servicePids finds the local Kafka broker and redis-server in a /proc scan.
func servicePids(procs map[int]procCPU) map[int]string {
	out := map[int]string{}
	for pid, p := range procs {
		if p.name == "kafka" || p.name == "redis" {
			out[pid] = p.name
		}
	}
	return out
}
