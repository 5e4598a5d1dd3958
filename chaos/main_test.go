//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the eventrouter executable built once for the whole suite.
var binary string

// short is CHAOS_SHORT=1: every scenario shortened, the CI variant.
var short = os.Getenv("CHAOS_SHORT") == "1"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventrouter-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "eventrouter")
	out, err := exec.Command("go", "build", "-o", binary, "../cmd/eventrouter").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// pick returns full, or shortVal under CHAOS_SHORT=1.
func pick[T any](full, shortVal T) T {
	if short {
		return shortVal
	}
	return full
}

// service runs scripts/<name>.sh <args> (kafka, redis or kafka-cluster), bounded by 5
// minutes. The scripts directory is ../scripts, or $CHAOS_SCRIPTS (for a copy of the
// tree run against the services of another checkout).
func service(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := "../scripts"
	if d := os.Getenv("CHAOS_SCRIPTS"); d != "" {
		dir = d
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, name+".sh"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/%s.sh %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// stopService stops a shared service and registers a cleanup that starts it again, so
// a failing test never leaves it down for the other engineers and tests.
func stopService(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		if err := service(name, "start"); err != nil {
			t.Errorf("restarting %s after the test: %v", name, err)
		}
	})
	if err := service(name, "stop"); err != nil {
		t.Fatal(err)
	}
}
