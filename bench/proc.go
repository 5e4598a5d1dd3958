package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is 100 on
// every Linux architecture Go supports (the kernel ABI fixes it, whatever CONFIG_HZ is).
const clockTicks = 100

// ErrNoProc is returned when /proc has no usable entry for the process.
var ErrNoProc = errors.New("bench: process not readable in /proc")

// ProcSample is one reading of a process's resource use from /proc.
type ProcSample struct {
	// CPU is user + system time consumed so far (utime + stime of /proc/<pid>/stat).
	CPU time.Duration
	// PeakRSS is the resident set's high-water mark in bytes (VmHWM of /proc/<pid>/status).
	PeakRSS int64
	// RSS is the current resident set in bytes (VmRSS).
	RSS int64
}

// ReadProc reads pid's CPU time and memory from /proc. It fails with an error wrapping
// ErrNoProc when the process is gone or /proc is not mounted.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcSample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	hwm, rss, err := parseStatusMemory(status)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{CPU: cpu, PeakRSS: hwm, RSS: rss}, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat. The command
// name (field 2) is in parentheses and may itself contain spaces and parentheses, so
// fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat: no ')' after the command name", ErrNoProc)
	}
	// After ") ": field 3 (state) is index 0, so utime (field 14) is index 11 and
	// stime (field 15) index 12.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat: %d fields after the command name, want ≥ 13", ErrNoProc, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: stat: utime/stime: %w", ErrNoProc, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// parseStatusMemory returns VmHWM and VmRSS in bytes from /proc/<pid>/status.
func parseStatusMemory(status []byte) (hwm, rss int64, err error) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%w: status: %s: unexpected %q", ErrNoProc, key, val)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: status: %s: %w", ErrNoProc, key, err)
		}
		if key == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("%w: status: VmHWM or VmRSS missing (kernel thread or zombie?)", ErrNoProc)
	}
	return hwm, rss, nil
}

// LoadAvg returns the 1-minute load average from /proc/loadavg (0 when unreadable).
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// CPUTimes is a reading of the machine's CPU time from the first line of /proc/stat,
// in clock ticks summed over all cores.
type CPUTimes struct {
	Busy, Total int64
}

// ReadCPUTimes reads /proc/stat; the zero value when unreadable.
func ReadCPUTimes() CPUTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}
	}
	return parseCPUTimes(b)
}

// parseCPUTimes reads the aggregate "cpu" line: user nice system idle iowait irq
// softirq steal ...; idle and iowait are not busy.
func parseCPUTimes(stat []byte) CPUTimes {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return CPUTimes{}
	}
	var t CPUTimes
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return CPUTimes{}
		}
		t.Total += v
		if i != 3 && i != 4 {
			t.Busy += v
		}
	}
	return t
}

// BusyShare is the share (0..1) of the machine's CPU time that was busy between a and
// b; 0 when unknown.
func BusyShare(a, b CPUTimes) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}
