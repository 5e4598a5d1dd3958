//go:build chaos

package chaos

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/bench"
	"github.com/claimable/eventrouter/internal/testenv"
)

// TestLagSurvivesAStall stops the sender under load and reads the router's /metrics:
// the sender group's lag on the deliveries topic, measured from committed offsets by
// every role, must show the backlog while no sender runs (the runbook's alert fires),
// and read exactly 0 once a sender is back and the pipeline is idle and drained (the
// router writes that topic in transactions: its markers must not count).
func TestLagSurvivesAStall(t *testing.T) {
	s := newStack(t, options{accounts: 5, fanout: 2, env: []string{"EVENTROUTER_OPS_LAG_INTERVAL=1s"}})
	router, sender := s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)
	group, topic := s.cfg.Delivery.Group, s.cfg.Topics.Deliveries
	lag := func() (float64, bool) {
		return scrape(router, "eventrouter_group_lag_records", `group="`+group+`"`, `topic="`+topic+`"`)
	}
	waitMetric := func(what string, limit time.Duration, ok func(v float64, found bool) bool) float64 {
		t.Helper()
		var v float64
		var found bool
		defer func() {
			if t.Failed() {
				t.Logf("%s: sender group lag on %s = %v (exported: %v)\n%s", what, topic, v, found, s.logTail(3000))
			}
		}()
		testenv.Eventually(t, limit, what, func() bool {
			v, found = lag()
			return ok(v, found)
		})
		return v
	}
	waitMetric("idle and drained after the warm-up", time.Minute, func(v float64, found bool) bool { return found && v == 0 })

	if err := sender.Stop(45 * time.Second); err != nil {
		t.Fatal(err)
	}
	const events = 50
	prod := g.run(ctx, 25, 2*time.Second) // 50 events, fan-out 2: 100 deliveries nobody sends
	stalled := waitMetric("while no sender runs", time.Minute, func(v float64, _ bool) bool { return v >= 2*events })
	if m, found := scrape(router, "eventrouter_group_members", `group="`+group+`"`); !found || m != 0 {
		t.Errorf("sender group members while stopped = %v (exported: %v), want 0", m, found)
	}

	s.mustStart(sender)
	s.drain(2*time.Minute, nil)
	drained := waitMetric("after the sender is back and everything is delivered", time.Minute, func(v float64, found bool) bool { return found && v == 0 })
	s.checkRoles()
	tl := s.ledger.tally(nil)
	s.report("lag_stall", prod, tl, map[string]any{"stalled_lag": stalled, "drained_lag": drained})
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
}

// scrape returns the value of the first series of metric on p's /metrics whose labels
// include every one of want (`name="value"`).
func scrape(p *bench.Role, metric string, want ...string) (float64, bool) {
	ops := p.OpsAddr()
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ops + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		labels, value, ok := strings.Cut(line[len(metric):], "} ")
		if !ok {
			continue
		}
		match := true
		for _, w := range want {
			match = match && strings.Contains(labels, w)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			panic(fmt.Sprintf("metric %s: %v", line, err))
		}
		return v, true
	}
	return 0, false
}
