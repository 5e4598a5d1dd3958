package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// profileWindow takes CPU profiles of the harness and of every role (through their
// ops.pprof endpoint) over d from now, writing <dir>/<scenario>-<run id>-<name>.pprof.
// wait blocks until every profile is written and returns the first failure.
func (r *run) profileWindow(ctx context.Context, roles []*Role, d time.Duration) (wait func() error) {
	dir := r.c.ProfileDir
	if dir == "" {
		return func() error { return nil }
	}
	path := func(name string) string {
		return filepath.Join(dir, fmt.Sprintf("%s-%s-%s.pprof", r.c.Scenario, r.id, name))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil && err != nil {
			first = err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() error { return err }
	}
	var self bytes.Buffer
	if err := pprof.StartCPUProfile(&self); err != nil {
		fail(fmt.Errorf("bench: harness profile: %w", err))
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sleepCtx(ctx, d)
			pprof.StopCPUProfile()
			fail(os.WriteFile(path("harness"), self.Bytes(), 0o644))
		}()
	}
	for _, ro := range roles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(fetchProfile(ctx, ro.OpsAddr(), d, path(ro.Name)))
		}()
	}
	return func() error { wg.Wait(); return first }
}

// fetchProfile saves a CPU profile of d from the ops listener at addr.
func fetchProfile(ctx context.Context, addr string, d time.Duration, path string) error {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	url := "http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: profile %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("bench: profile %s: %s: %s", addr, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
