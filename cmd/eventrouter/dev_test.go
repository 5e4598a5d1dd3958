package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claimable/eventrouter/config"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevModeDeliversVerifiedEventsOfEveryName runs `eventrouter dev` as a user would and
// waits for a signature-verified delivery of every catalogue name.
func TestDevModeDeliversVerifiedEventsOfEveryName(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "eventrouter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "dev",
		"--kafka-listen", freeAddr(t), "--receiver-listen", freeAddr(t),
		"--api-listen", freeAddr(t), "--ops-listen", freeAddr(t), "--interval", "500ms")
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	want := map[string]bool{}
	for _, n := range config.DefaultCatalogue {
		want[n] = true
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	var unverified []string
	for len(want) > 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("eventrouter dev exited early; still waiting for %v", want)
			}
			if !strings.HasPrefix(line, "delivery ") {
				continue
			}
			if !strings.Contains(line, "verified=yes") {
				unverified = append(unverified, line)
				continue
			}
			delete(want, strings.Fields(line)[1])
		case <-deadline:
			t.Fatalf("no verified delivery within 20s for %v (unverified lines: %v)", want, unverified)
		}
	}
	if len(unverified) > 0 {
		t.Fatalf("deliveries failed verification: %v", unverified)
	}
	// Ctrl-C stops everything cleanly.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("eventrouter dev did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("eventrouter dev did not stop within 30s of SIGINT")
	}
}

// TestMakeDevExitsZeroOnCtrlC runs `make dev` on a terminal (script(1) provides one) and
// types Ctrl-C once deliveries flow: the terminal's SIGINT must stop eventrouter cleanly
// and make must exit 0, not die of the signal ("make: *** [dev] Interrupt").
func TestMakeDevExitsZeroOnCtrlC(t *testing.T) {
	for _, tool := range []string{"make", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make from the build tools, script from util-linux): %v", tool, err)
		}
	}
	flags := strings.Join([]string{"--kafka-listen=" + freeAddr(t), "--receiver-listen=" + freeAddr(t),
		"--api-listen=" + freeAddr(t), "--ops-listen=" + freeAddr(t), "--interval=500ms"}, " ")
	cmd := exec.Command("script", "-qfec", "make -C ../.. dev DEV_FLAGS='"+flags+"'", "/dev/null")
	cmd.Env = os.Environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	deadline := time.After(3 * time.Minute) // go run compiles first
	for delivered := false; !delivered; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("make dev ended before delivering:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			delivered = strings.HasPrefix(line, "delivery ")
		case <-deadline:
			t.Fatalf("no delivery from make dev within 3 minutes:\n%s", strings.Join(seen, "\n"))
		}
	}
	if _, err := stdin.Write([]byte{3}); err != nil { // Ctrl-C on the terminal
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for line := range lines {
			seen = append(seen, line)
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("make dev after Ctrl-C: %v, want exit 0\n%s", err, lastLines(seen, 15))
		}
		if out := strings.Join(seen, "\n"); strings.Contains(out, "Interrupt") || strings.Contains(out, "Error") {
			t.Errorf("make reported a failure:\n%s", lastLines(seen, 15))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("make dev did not stop within 60s of Ctrl-C\n%s", lastLines(seen, 15))
	}
}

func lastLines(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
