package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(w.Body)
	return w.Code, string(b)
}

func TestOpsEndpoints(t *testing.T) {
	ops := NewOps("127.0.0.1:0", zap.NewNop())
	ready := false
	ops.AddCheck("group", func(context.Context) error {
		if !ready {
			return errors.New("not joined")
		}
		return nil
	})
	h := ops.Handler()
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"group":"not joined"`) {
		t.Fatalf("/readyz before ready = %d %s", code, body)
	}
	ready = true
	if code, body := get(t, h, "/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("/readyz when ready = %d %s", code, body)
	}
	if code, body := get(t, h, "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics = %d", code)
	}
}

func TestSuperviseStopsEveryRunnerOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan string, 2)
	r := func(name string) Runner {
		return RunFunc(func(ctx context.Context) error { <-ctx.Done(); stopped <- name; return nil })
	}
	done := make(chan error, 1)
	go func() { done <- Supervise(ctx, time.Second, zap.NewNop(), r("a"), r("b")) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
	if len(stopped) != 2 {
		t.Fatalf("%d runners stopped, want 2", len(stopped))
	}
}

func TestSuperviseFailureStopsTheOthers(t *testing.T) {
	boom := errors.New("boom")
	other := RunFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
	failing := RunFunc(func(context.Context) error { return boom })
	if err := Supervise(context.Background(), time.Second, zap.NewNop(), other, failing); !errors.Is(err, boom) {
		t.Fatalf("Supervise = %v, want boom", err)
	}
}

func TestSuperviseEnforcesTheShutdownDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stuck := RunFunc(func(context.Context) error { time.Sleep(5 * time.Second); return nil })
	cancel()
	start := time.Now()
	err := Supervise(ctx, 100*time.Millisecond, zap.NewNop(), stuck)
	if !errors.Is(err, ErrShutdownDeadline) || time.Since(start) > 2*time.Second {
		t.Fatalf("Supervise = %v after %s, want ErrShutdownDeadline promptly", err, time.Since(start))
	}
}

// TestOpsProfilesOnlyWhenAskedFor: /debug/pprof/ is absent by default (ops.pprof: false)
// and serves the profile index and a heap profile once ServeProfiles was called.
func TestOpsProfilesOnlyWhenAskedFor(t *testing.T) {
	if code, _ := get(t, NewOps("127.0.0.1:0", zap.NewNop()).Handler(), "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ by default = %d, want 404", code)
	}
	ops := NewOps("127.0.0.1:0", zap.NewNop())
	ops.ServeProfiles()
	h := ops.Handler()
	if code, body := get(t, h, "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ with profiles = %d", code)
	}
	if code, body := get(t, h, "/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("/debug/pprof/heap with profiles = %d %.80s", code, body)
	}
}
