package bench

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/claimable/eventrouter/internal/testenv"
)

// roleHelperEnv makes this test binary stand in for an eventrouter role: it serves
// /readyz on EVENTROUTER_OPS_LISTEN until SIGTERM ("serve") or for a moment ("crash").
const roleHelperEnv = "BENCH_ROLE_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(roleHelperEnv); mode != "" {
		fakeRole(mode)
		return
	}
	os.Exit(m.Run())
}

func fakeRole(mode string) {
	srv := &http.Server{Addr: os.Getenv("EVENTROUTER_OPS_LISTEN"), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}),
		ReadHeaderTimeout: time.Second}
	go func() { _ = srv.ListenAndServe() }()
	if mode == "crash" {
		time.Sleep(300 * time.Millisecond)
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

// A role killed and started again keeps its ops port when KeepPort is set (the derived
// instance id includes it); kills and stops are not findings, an exit of its own is.
func TestRoleKillRestartAndUnexpectedExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := NewRole("router", os.Args[0], []string{roleHelperEnv + "=serve"}, io.Discard)
	r.KeepPort = true
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := r.OpsAddr()
	r.Kill()
	if r.Alive() || r.Kills() != 1 {
		t.Fatalf("after Kill: alive %v, kills %d", r.Alive(), r.Kills())
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if r.OpsAddr() != addr {
		t.Errorf("ops address %s after a restart, want %s kept", r.OpsAddr(), addr)
	}
	if err := r.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if e := r.UnexpectedExits(); len(e) != 0 {
		t.Errorf("Kill and Stop recorded as unexpected exits: %v", e)
	}

	crash := NewRole("sender", os.Args[0], []string{roleHelperEnv + "=crash"}, io.Discard)
	if err := crash.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the crashing role to exit", func() bool { return !crash.Alive() })
	if e := crash.UnexpectedExits(); len(e) != 1 {
		t.Errorf("unexpected exits %v, want the crash", e)
	}
}
