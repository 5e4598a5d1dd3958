package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Role is one eventrouter role ("router", "sender") run as a child process of the
// benchmark (or of the chaos suite), so its CPU and memory are its own. It may be
// stopped, killed and restarted; the resource use of every incarnation is summed, and
// every exit the caller did not cause (Stop, Kill) is recorded. Not safe for concurrent
// use except Sample, Alive, Kills, UnexpectedExits and OpsAddr.
type Role struct {
	Name string
	// KeepPort keeps the ops port across restarts, like a container's: the instance id
	// a role derives by default includes it. Off, each incarnation gets a free port.
	KeepPort bool
	binary   string
	env      []string
	logw     io.Writer
	tail     *logTail // the end of what the running incarnation printed

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	port     int
	opsAddr  string
	expected bool     // the caller is stopping or killing the running incarnation
	kills    int      // Kill calls that killed an incarnation
	exits    []string // unexpected exits: "pid 123: exit status 1 at 12:00:01"
	// last holds the last sample of each incarnation (by pid); base the CPU at the
	// start of the measured window.
	last     map[int]ProcSample
	base     map[int]time.Duration
	restarts int
}

// NewRole prepares role name of binary with env (EVENTROUTER_* settings appended to a
// copy of the current environment without its EVENTROUTER_* variables). The child's
// stdout and stderr go to logw.
func NewRole(name, binary string, env []string, logw io.Writer) *Role {
	base := make([]string, 0, len(os.Environ())+len(env))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTROUTER_") {
			base = append(base, kv)
		}
	}
	return &Role{Name: name, binary: binary, env: append(base, env...), logw: logw,
		last: map[int]ProcSample{}, base: map[int]time.Duration{}}
}

// Start starts a new incarnation and waits until its /readyz answers 200 or ctx ends.
func (r *Role) Start(ctx context.Context) error {
	r.mu.Lock()
	port := r.port
	r.mu.Unlock()
	if port == 0 || !r.KeepPort {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	ops := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(r.binary, r.Name)
	cmd.Env = append(append([]string(nil), r.env...), "EVENTROUTER_OPS_LISTEN="+ops)
	r.tail = &logTail{}
	out := io.MultiWriter(r.logw, r.tail)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start %s: %w", r.Name, err)
	}
	done := make(chan struct{})
	r.mu.Lock()
	r.cmd, r.done, r.port, r.opsAddr, r.expected = cmd, done, port, ops, false
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		if !r.expected || (r.cmd != nil && r.cmd != cmd) {
			r.exits = append(r.exits, fmt.Sprintf("pid %d: %v at %s", cmd.Process.Pid, err, time.Now().Format("15:04:05.000")))
		}
		r.mu.Unlock()
		close(done)
	}()
	return r.WaitReady(ctx)
}

// WaitReady waits until the running incarnation's /readyz answers 200; it fails when
// the process exits first or ctx ends.
func (r *Role) WaitReady(ctx context.Context) error {
	r.mu.Lock()
	ops, done, tail := r.opsAddr, r.done, r.tail
	r.mu.Unlock()
	if done == nil {
		return fmt.Errorf("bench: %s was never started", r.Name)
	}
	cl := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := cl.Get("http://" + ops + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("bench: %s exited before it was ready; its last output: %s", r.Name, tail.String())
		case <-ctx.Done():
			return fmt.Errorf("bench: %s not ready: %w", r.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

// Kill sends SIGKILL to the running incarnation and waits for it to be gone.
func (r *Role) Kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	if cmd == nil {
		r.mu.Unlock()
		return
	}
	r.expected = true
	r.kills++
	r.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Alive reports whether the current incarnation is still running.
func (r *Role) Alive() bool {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
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

// Kills is how many incarnations Kill killed.
func (r *Role) Kills() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kills
}

// UnexpectedExits returns the exits the caller did not cause (neither Stop nor Kill).
func (r *Role) UnexpectedExits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.exits...)
}

// Stop sends SIGTERM and waits up to grace for the process to exit, then kills it. It
// takes a last resource sample first.
func (r *Role) Stop(grace time.Duration) error {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	if cmd == nil {
		r.mu.Unlock()
		return nil
	}
	r.expected = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cmd = nil
		r.mu.Unlock()
	}()
	select {
	case <-done:
		return nil // already gone (recorded as an unexpected exit if it was)
	default:
	}
	r.Sample()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("bench: %s did not stop within %s after SIGTERM; killed", r.Name, grace)
	}
}

// Restart stops the running incarnation gracefully and starts a new one.
func (r *Role) Restart(ctx context.Context, grace time.Duration) error {
	if err := r.Stop(grace); err != nil {
		return err
	}
	r.mu.Lock()
	r.restarts++
	r.mu.Unlock()
	return r.Start(ctx)
}

// Sample reads the running incarnation's /proc entry and keeps it. Safe for concurrent use.
func (r *Role) Sample() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	pid := r.cmd.Process.Pid
	s, err := ReadProc(pid)
	if err != nil || s.PeakRSS == 0 {
		return
	}
	r.last[pid] = s
}

// MarkWindow starts the measured window: CPU used before now is not counted.
func (r *Role) MarkWindow() {
	r.Sample()
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, s := range r.last {
		r.base[pid] = s.CPU
	}
}

// RoleUsage is a role's resource use over the measured window.
type RoleUsage struct {
	Role        string  `json:"role"`
	CPUSeconds  float64 `json:"cpu_s"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	Incarnation int     `json:"processes"`
}

// Usage returns the CPU used since MarkWindow (summed over incarnations; an incarnation
// started after MarkWindow counts from zero) and the highest VmHWM of any incarnation.
func (r *Role) Usage() RoleUsage {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := RoleUsage{Role: r.Name, Incarnation: r.restarts + 1}
	var peak int64
	for pid, s := range r.last {
		u.CPUSeconds += (s.CPU - r.base[pid]).Seconds()
		peak = max(peak, s.PeakRSS)
	}
	u.PeakRSSMiB = float64(peak) / (1 << 20)
	return u
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// OpsAddr is the running incarnation's ops listener (host:port).
func (r *Role) OpsAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opsAddr
}

// Pids returns the process ids of every incarnation sampled so far.
func (r *Role) Pids() []int {
	r.Sample()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.last))
	for pid := range r.last {
		out = append(out, pid)
	}
	return out
}

// logTailMax is how much of a role's output logTail keeps.
const logTailMax = 2 << 10

// logTail keeps the last logTailMax bytes written to it, so a role that exits at start
// can say why even when its log is discarded. Safe for concurrent use.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *logTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > logTailMax {
		t.buf = append(t.buf[:0], t.buf[n-logTailMax:]...)
	}
	return len(p), nil
}

// String is the kept output, trimmed; "(nothing)" when there was none.
func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := strings.TrimSpace(string(t.buf)); s != "" {
		return s
	}
	return "(nothing)"
}
