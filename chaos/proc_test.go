//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// proc is one eventrouter role run as a child process that the suite may SIGKILL,
// stop and restart. It records every exit it did not cause (a finding: roles must
// ride out faults). Safe for concurrent use.
type proc struct {
	name string
	bin  string
	env  []string
	logw io.Writer

	mu       sync.Mutex
	port     int // ops port, kept across restarts like a container's (it is part of the derived instance id)
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the suite is stopping or killing the running incarnation
	ops      string
	kills    int
	starts   int
	exits    []string // unexpected exits: "pid 123: exit status 1 at 12:00:01"
}

func newProc(name, bin string, env []string, logw io.Writer) *proc {
	return &proc{name: name, bin: bin, env: env, logw: logw}
}

// start starts a new incarnation and waits until its /readyz answers 200 or ctx ends.
func (p *proc) start(ctx context.Context) error {
	p.mu.Lock()
	port := p.port
	p.mu.Unlock()
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
		p.mu.Lock()
		p.port = port
		p.mu.Unlock()
	}
	ops := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(p.bin, p.name)
	cmd.Env = append(append([]string(nil), p.env...), "EVENTROUTER_OPS_LISTEN="+ops)
	cmd.Stdout, cmd.Stderr = p.logw, p.logw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.ops, p.expected = cmd, done, ops, false
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if !p.expected || p.cmd != cmd {
			p.exits = append(p.exits, fmt.Sprintf("pid %d: %v at %s", cmd.Process.Pid, err, time.Now().Format("15:04:05.000")))
		}
		p.mu.Unlock()
		close(done)
	}()
	return waitReady(ctx, ops, done, p.name)
}

func waitReady(ctx context.Context, ops string, done <-chan struct{}, name string) error {
	cl := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := cl.Get("http://" + ops + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready (see its log)", name)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL to the running incarnation and waits for it to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return
	}
	p.expected = true
	p.kills++
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop sends SIGTERM, waits up to grace, then kills. It reports a role that needed
// the kill.
func (p *proc) stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return nil
	}
	p.expected = true
	p.mu.Unlock()
	select {
	case <-done:
		return nil // already gone (recorded as an unexpected exit if it was)
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.name, grace)
	}
}

// alive reports whether the current incarnation is still running.
func (p *proc) alive() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// unexpectedExits returns the exits the suite did not cause.
func (p *proc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.exits...)
}

func (p *proc) killCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
