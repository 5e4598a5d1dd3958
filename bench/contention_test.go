package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A broker's JIT compiler threads count in its CPU and, separately, as JIT: the report
// shows how much of a window's broker CPU was the broker compiling itself.
func TestReadSchedSplitsOutJITCompilerThreads(t *testing.T) {
	dir := t.TempDir()
	thread := func(tid, comm, schedstat string) {
		t.Helper()
		d := filepath.Join(dir, tid)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]string{"comm": comm + "\n", "schedstat": schedstat + "\n"} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	thread("100", "java", "1000000000 5000000 10")
	thread("101", "C2 CompilerThre", "3000000000 1000000 10")
	thread("102", "C1 CompilerThre", "500000000 0 10")
	thread("103", "data-plane-kafk", "2000000000 7000000 10")

	s, ok := readSchedDir(dir)
	if !ok {
		t.Fatal("readSchedDir: not ok")
	}
	if want := 6500 * time.Millisecond; s.cpu != want {
		t.Errorf("cpu = %v, want %v (every thread)", s.cpu, want)
	}
	if want := 3500 * time.Millisecond; s.jit != want {
		t.Errorf("jit = %v, want %v (the C1 and C2 compiler threads)", s.jit, want)
	}
	if want := 13 * time.Millisecond; s.wait != want {
		t.Errorf("wait = %v, want %v", s.wait, want)
	}

	// A Go process has no compiler threads: this test binary's own JIT CPU is zero.
	self, ok := readSched(os.Getpid())
	if !ok {
		t.Fatal("readSched(own pid): not ok (no /proc/<pid>/task/*/schedstat?)")
	}
	if self.cpu <= 0 || self.jit != 0 {
		t.Errorf("own process: cpu %v, jit %v; want cpu > 0 and no JIT", self.cpu, self.jit)
	}
}
