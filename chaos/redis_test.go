//go:build chaos

package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/internal/testenv"
)

// TestRedisOutage stops redis-server (scripts/redis.sh stop: SHUTDOWN SAVE, data kept)
// for 30 s (short mode 10 s) under load, with an api process beside router and sender.
// Routing must continue from the index snapshot — deliveries keep arriving at the
// receiver during the outage — API writes must fail with 503 problem+json during it and
// succeed after it, and every expected delivery must arrive.
//
// It disrupts every other user of the shared Redis: run it sparingly. Redis is started
// again in t.Cleanup whatever happens.
func TestRedisOutage(t *testing.T) {
	s := newStack(t, options{accounts: 10, fanout: 2})
	s.startRoles()
	apiPort := testenv.FreePort(t)
	const token = "chaos-admin-token-0123456789abcdef"
	api := s.role("api", "EVENTROUTER_API_LISTEN=127.0.0.1:"+strconv.Itoa(apiPort), "EVENTROUTER_API_ADMIN_TOKENS="+token)
	s.mustStart(api)
	apiURL := "http://127.0.0.1:" + strconv.Itoa(apiPort)
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	if st, _, body := s.createViaAPI(apiURL, token); st != http.StatusCreated {
		t.Fatalf("API create before the outage: %d %s", st, body)
	}

	down := pick(30*time.Second, 10*time.Second)
	dur := down + 20*time.Second
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 200, dur) }()
	time.Sleep(5 * time.Second)

	stopService(t, "redis")
	from := time.Now()
	// A write during the outage: 503 problem+json, within a bounded time.
	t0 := time.Now()
	duringStatus, ctype, body := s.createViaAPI(apiURL, token)
	writeLatency := time.Since(t0)
	if duringStatus != http.StatusServiceUnavailable || !strings.HasPrefix(ctype, "application/problem+json") {
		t.Errorf("API create during the Redis outage: %d %q %s; want 503 application/problem+json", duringStatus, ctype, body)
	}
	time.Sleep(time.Until(from.Add(down)))
	to := time.Now()
	during := s.ledger.firstArrivalsBetween(from.Add(2*time.Second), to)
	if err := service("redis", "start"); err != nil {
		t.Fatal(err)
	}

	// Writes succeed again once the API has reconnected.
	var after int
	var afterIn time.Duration
	t1 := time.Now()
	for {
		st, _, body := s.createViaAPI(apiURL, token)
		if st == http.StatusCreated {
			after, afterIn = st, time.Since(t1)
			break
		}
		if time.Since(t1) > 30*time.Second {
			t.Errorf("API create still failing 30 s after Redis came back: %d %s", st, body)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	prod := <-loadDone
	recovered := s.waitReadyAll(ctx, time.Minute)
	s.drain(pick(3*time.Minute, 2*time.Minute), nil)
	s.checkRoles()
	tl := s.ledger.tally(nil)
	s.report("redis-outage", prod, tl, map[string]any{
		"redis_down_s": to.Sub(from).Seconds(), "deliveries_during_outage": during,
		"api_write_during_outage": duringStatus, "api_problem_type": ctype, "api_write_during_outage_ms": writeLatency.Milliseconds(),
		"api_write_after": after, "api_write_ok_after_s": afterIn.Seconds(), "roles_ready_again_s": recovered.Seconds(),
	})
	if during == 0 {
		t.Error("no delivery arrived while Redis was down: routing did not continue from the snapshot")
	}
	if tl.Duplicates != 0 {
		t.Errorf("FINDING: %d duplicate deliveries although no process crashed", tl.Duplicates)
	}
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
}

// createViaAPI POSTs a new subscription (for the stack's first account, to the
// receiver) and returns the status, content type and body. Bounded by 15 s.
func (s *stack) createViaAPI(base, token string) (int, string, string) {
	body, _ := json.Marshal(map[string]any{
		"account_id": s.accts[0], "url": fmt.Sprintf("http://127.0.0.1:%d/hook/api", s.port),
		"events": []string{"contact.created"}, "description": "chaos api write",
	})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/subscriptions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}
