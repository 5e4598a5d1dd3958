package app

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
)

// Cgroup files that hold a container's memory limit: v2 first, then v1.
const (
	cgroupV2MemoryMax = "/sys/fs/cgroup/memory.max"
	cgroupV1MemoryMax = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// tuneGoRuntime applies ops.gc_percent and ops.memory_limit_bytes to the Go runtime of
// this process, except where the GOGC or GOMEMLIMIT environment variable is set (an
// operator's explicit choice, which the runtime has already applied), and logs what is
// in force. readFile reads the cgroup files (os.ReadFile; a fake in tests).
func tuneGoRuntime(c config.Ops, readFile func(string) ([]byte, error), log *zap.Logger) {
	gc, gcFrom := zap.Int("gc_percent", c.GCPercent), "ops.gc_percent"
	limitFrom := "ops.memory_limit_bytes"
	if env := os.Getenv("GOGC"); env == "" {
		debug.SetGCPercent(c.GCPercent)
	} else {
		gc, gcFrom = zap.String("gc_percent", env), "GOGC" // as the runtime read it ("off" too)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := c.MemoryLimitBytes
		if limit == 0 {
			limitFrom = "none (no container memory limit)"
			if cg, ok := cgroupMemoryLimit(readFile); ok {
				limit, limitFrom = cg/10*9, "90% of the container memory limit"
			}
		}
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	} else {
		limitFrom = "GOMEMLIMIT"
	}
	fields := []zap.Field{gc, zap.String("gc_percent_from", gcFrom)}
	if limit := debug.SetMemoryLimit(-1); limit < 1<<62 { // -1 reads it; math.MaxInt64: no limit
		fields = append(fields, zap.Int64("memory_limit_bytes", limit))
	}
	log.Info("go runtime", append(fields, zap.String("memory_limit_from", limitFrom))...)
}

// cgroupMemoryLimit returns the memory limit of the cgroup this process runs in, if it
// has one (a container's): cgroup v2's memory.max, else v1's memory.limit_in_bytes. "max"
// (v2) and v1's page-rounded MaxInt64 mean no limit.
func cgroupMemoryLimit(readFile func(string) ([]byte, error)) (int64, bool) {
	for _, path := range []string{cgroupV2MemoryMax, cgroupV1MemoryMax} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
