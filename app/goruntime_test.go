package app

import (
	"errors"
	"io/fs"
	"runtime/debug"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/claimable/eventrouter/config"
)

// cgroupFiles fakes os.ReadFile over a map of cgroup files.
func cgroupFiles(files map[string]string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		if v, ok := files[path]; ok {
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"v2 limit", map[string]string{cgroupV2MemoryMax: "536870912\n"}, 512 << 20, true},
		{"v2 unlimited", map[string]string{cgroupV2MemoryMax: "max\n", cgroupV1MemoryMax: "1073741824\n"}, 0, false},
		{"v1 limit", map[string]string{cgroupV1MemoryMax: "1073741824\n"}, 1 << 30, true},
		{"v1 unlimited", map[string]string{cgroupV1MemoryMax: "9223372036854771712\n"}, 0, false},
		{"no cgroup files", nil, 0, false},
		{"garbage", map[string]string{cgroupV2MemoryMax: "lots"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cgroupMemoryLimit(cgroupFiles(tc.files))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("cgroupMemoryLimit = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// restoreGoRuntime puts the process's GC settings back after a test changed them.
func restoreGoRuntime(t *testing.T) {
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

func currentGCPercent() int {
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	return gc
}

// With neither GOGC nor GOMEMLIMIT set, a role runs with ops.gc_percent and 90 % of its
// container's memory limit, and says so in its log.
func TestTuneGoRuntimeAppliesConfigAndContainerLimit(t *testing.T) {
	restoreGoRuntime(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	core, logs := observer.New(zap.InfoLevel)
	tuneGoRuntime(config.Ops{GCPercent: 300}, cgroupFiles(map[string]string{cgroupV2MemoryMax: "1000000000"}), zap.New(core))
	if got := currentGCPercent(); got != 300 {
		t.Errorf("GC percent = %d, want 300 (ops.gc_percent)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 900000000 {
		t.Errorf("memory limit = %d, want 900000000 (90 %% of the cgroup's 1000000000)", got)
	}
	entries := logs.FilterMessage("go runtime").All()
	if len(entries) != 1 {
		t.Fatalf("%d 'go runtime' log lines, want 1", len(entries))
	}
	f := entries[0].ContextMap()
	if f["gc_percent"] != int64(300) || f["memory_limit_bytes"] != int64(900000000) || f["memory_limit_from"] != "90% of the container memory limit" {
		t.Errorf("log fields = %v", f)
	}

	// An explicit ops.memory_limit_bytes wins over the container's.
	tuneGoRuntime(config.Ops{GCPercent: 300, MemoryLimitBytes: 256 << 20}, cgroupFiles(map[string]string{cgroupV2MemoryMax: "1000000000"}), zap.NewNop())
	if got := debug.SetMemoryLimit(-1); got != 256<<20 {
		t.Errorf("memory limit = %d, want ops.memory_limit_bytes %d", got, 256<<20)
	}
}

// GOGC and GOMEMLIMIT in the environment are the operator's explicit choice: the
// configuration does not override them.
func TestTuneGoRuntimeLeavesEnvironmentChoices(t *testing.T) {
	restoreGoRuntime(t)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetGCPercent(150) // what the runtime applied from GOGC at start
	debug.SetMemoryLimit(2 << 30)
	core, logs := observer.New(zap.InfoLevel)
	tuneGoRuntime(config.Ops{GCPercent: 300, MemoryLimitBytes: 256 << 20}, func(string) ([]byte, error) {
		return nil, errors.New("must not be read")
	}, zap.New(core))
	if got := currentGCPercent(); got != 150 {
		t.Errorf("GC percent = %d, want GOGC's 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 2<<30 {
		t.Errorf("memory limit = %d, want GOMEMLIMIT's %d", got, int64(2<<30))
	}
	f := logs.FilterMessage("go runtime").All()[0].ContextMap()
	if f["gc_percent_from"] != "GOGC" || f["memory_limit_from"] != "GOMEMLIMIT" {
		t.Errorf("log fields = %v, want both from the environment", f)
	}
}
