//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/devsamples"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// proc is one role process of the scaling test.
type proc struct {
	cmd  *exec.Cmd
	logs bytes.Buffer
}

func startRole(t *testing.T, bin string, env []string, role string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, role)}
	p.cmd.Env = append(env, "EVENTROUTER_OPS_LISTEN="+freeAddr(t))
	p.cmd.Stderr = &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	return p
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%v exited with %v after SIGTERM", p.cmd.Args, err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("%v did not stop within 40s of SIGTERM", p.cmd.Args)
	}
}

// TestScalingRoutersAndSenders scales the router group 1 → 2 and the sender group 1 → 3
// under load on the real broker: throughput rises, rebalances complete, and every
// (event, subscription) pair reaches its endpoint, with duplicates (same webhook-id)
// bounded by what was in flight.
func TestScalingRoutersAndSenders(t *testing.T) {
	seeds := testenv.Kafka(t)
	rdb := testenv.Redis(t)
	prefix := testenv.RedisPrefix(t)
	name := testenv.Name(t, "scale")
	bin := filepath.Join(t.TempDir(), "eventrouter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// Each group is measured against a backlog it cannot clear at once. The endpoint
	// takes 50 ms per request and a sender may hold 8 requests in flight, so one sender
	// tops out near 160 deliveries/s; one record per router transaction does the same for
	// a router. Adding processes must show in the rate.
	recv := receiver.New(nil)
	recv.SetBehaviour(func(string) (time.Duration, int) { return 50 * time.Millisecond, 0 })
	srv := httptest.NewServer(recv)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	env := append(os.Environ(),
		"EVENTROUTER_KAFKA_BROKERS="+strings.Join(seeds, ","),
		"EVENTROUTER_REDIS_ADDR="+testenv.RedisAddr(),
		"EVENTROUTER_REDIS_KEY_PREFIX="+prefix,
		"EVENTROUTER_LOG_LEVEL=warn",
		"EVENTROUTER_TOPICS_INGEST="+name+".claims",
		"EVENTROUTER_TOPICS_INGEST_OBJECTS="+name+".claims=claim",
		"EVENTROUTER_TOPICS_DELIVERIES="+name+".deliveries",
		"EVENTROUTER_TOPICS_INVALID="+name+".invalid",
		"EVENTROUTER_TOPICS_DLQ="+name+".dlq",
		"EVENTROUTER_TOPICS_OPERATIONAL="+name+".operational",
		"EVENTROUTER_ROUTER_OPERATIONAL_GROUP="+name+"-operational",
		"EVENTROUTER_TOPICS_RETRY_PREFIX="+name+".retry.",
		"EVENTROUTER_TOPICS_PARTITIONS=6",
		"EVENTROUTER_ROUTER_GROUP="+name+"-router",
		"EVENTROUTER_ROUTER_TRANSACTIONAL_ID_PREFIX="+name,
		"EVENTROUTER_ROUTER_MAX_POLL_RECORDS=1",
		"EVENTROUTER_ROUTER_MAX_TRANSACTION_RECORDS=1",
		"EVENTROUTER_DELIVERY_GROUP="+name+"-sender",
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE=1s,2s",
		"EVENTROUTER_DELIVERY_MAX_IN_FLIGHT=8",
		"EVENTROUTER_DELIVERY_DEFAULT_MAX_IN_FLIGHT=8",
		"EVENTROUTER_EGRESS_ALLOW_HTTP=true",
		"EVENTROUTER_EGRESS_ALLOW_CIDRS=127.0.0.0/8",
		"EVENTROUTER_EGRESS_ALLOW_PORTS="+u.Port(),
	)
	create := exec.Command(bin, "topics", "create", "--include-ingest")
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("topics create: %v\n%s", err, out)
	}
	adm := testenv.KafkaAdmin(t)
	t.Cleanup(func() {
		var all []string
		for _, s := range []string{".claims", ".deliveries", ".invalid", ".dlq", ".operational", ".retry.1s", ".retry.2s"} {
			all = append(all, name+s)
		}
		_, _ = adm.DeleteTopics(context.Background(), all...)
	})

	// Two subscriptions in each of 24 accounts spread the deliveries over every partition.
	store, err := subscriptions.NewRedisStore(rdb, subscriptions.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	svc := subscriptions.NewService(store, subscriptions.Policy{Egress: egress.Policy{AllowHTTP: true, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowPorts: []int{mustAtoi(t, u.Port())}}}, time.Now)
	ctx := testenv.Context(t, 5*time.Minute)
	var accounts []string
	subsOf := map[string][]string{}
	for i := 0; i < 48; i++ {
		acct := fmt.Sprintf("acct_%02d", i/2)
		path := fmt.Sprintf("/hooks/%02d", i)
		sub, err := svc.Create(ctx, subscriptions.Input{AccountID: acct, URL: srv.URL + path, Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := recv.SetSecret(path, sub.Secrets[0].Value); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			accounts = append(accounts, acct)
		}
		subsOf[acct] = append(subsOf[acct], sub.ID)
	}

	// The backlog: 6 000 events, 12 000 deliveries, so that neither group runs out of
	// work while it is measured (a router near 250 events/s emptied a 3 000-event
	// backlog during the two-router measurement).
	prod := testenv.KafkaClient(t)
	var evs []*events.Event
	var want []string
	for n := 0; n < 6000; n++ {
		acct := accounts[n%len(accounts)]
		e := events.Sample("claim.created", acct, fmt.Sprintf("claim_%d", n%500), n, time.Now())
		e.ID = fmt.Sprintf("evt_%s_%d", name, n)
		evs = append(evs, e)
		for _, sub := range subsOf[acct] {
			want = append(want, events.DeliveryID(e.ID, sub))
		}
	}
	if _, err := devsamples.Produce(ctx, prod, evs, func(*events.Event) string { return name + ".claims" }, 0); err != nil {
		t.Fatal(err)
	}

	rate := func(what string, f func() int64, over time.Duration) float64 {
		a := f()
		time.Sleep(over)
		r := float64(f()-a) / over.Seconds()
		t.Logf("%s: %.0f/s", what, r)
		return r
	}
	routerGroup, senderGroup := name+"-router", name+"-sender"
	routed := func() int64 { return committedTotal(t, adm, routerGroup) }
	delivered := func() int64 { return int64(recv.Stats().Unique) }

	// Routers: 1 → 2 against the ingest backlog; no sender runs yet.
	routers := []*proc{startRole(t, bin, env, "router")}
	testenv.Eventually(t, 90*time.Second, "routed events", func() bool { return routed() > 0 })
	r1 := rate("1 router: events routed", routed, 5*time.Second)
	routers = append(routers, startRole(t, bin, env, "router"))
	waitEveryMemberCommits(t, adm, routerGroup, 2)
	r2 := rate("2 routers: events routed", routed, 5*time.Second)
	if routed() >= int64(len(evs)) {
		t.Fatalf("the ingest backlog ran out while 2 routers were measured: %.0f/s is not their rate", r2)
	}
	testenv.Eventually(t, 2*time.Minute, "the whole backlog routed", func() bool { return routed() >= int64(len(evs)) })

	// Senders: 1 → 3 against the delivery backlog.
	senders := []*proc{startRole(t, bin, env, "sender")}
	testenv.Eventually(t, 90*time.Second, "first deliveries", func() bool { return delivered() > 0 })
	s1 := rate("1 sender: deliveries", delivered, 5*time.Second)
	senders = append(senders, startRole(t, bin, env, "sender"), startRole(t, bin, env, "sender"))
	waitEveryMemberCommits(t, adm, senderGroup, 3)
	s3 := rate("3 senders: deliveries", delivered, 5*time.Second)
	if delivered() >= int64(len(want)) {
		t.Fatalf("the delivery backlog ran out while 3 senders were measured: %.0f/s is not their rate", s3)
	}

	var missing []string
	testenv.Eventually(t, 2*time.Minute, "every delivery", func() bool {
		missing = missing[:0]
		for _, id := range want {
			if recv.Accepted(id) == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	for _, p := range append(routers, senders...) {
		p.stop(t)
	}
	st := recv.Stats()
	t.Logf("expected %d deliveries; received %d unique, %d duplicates, %d unverified", len(want), st.Unique, st.Duplicates, st.Unverified)
	if st.Unique != len(want) || st.Unverified != 0 {
		t.Fatalf("received %d unique deliveries (want %d), %d unverified", st.Unique, len(want), st.Unverified)
	}
	// The two sender rebalances may redeliver at most what was in flight (8 per process).
	if maxDup := 2 * 3 * 8; st.Duplicates > maxDup {
		t.Fatalf("%d duplicates, more than the %d that could have been in flight at rebalances", st.Duplicates, maxDup)
	}
	if r2 < 1.3*r1 {
		t.Errorf("routing rate went from %.0f/s to %.0f/s with a second router; want at least 1.3x", r1, r2)
	}
	if s3 < 1.5*s1 {
		t.Errorf("delivery rate went from %.0f/s to %.0f/s with three senders; want at least 1.5x", s1, s3)
	}
}

func committedTotal(t *testing.T, adm *kadm.Client, group string) int64 {
	t.Helper()
	var n int64
	fetchOffsets(t, adm, group).Each(func(o kadm.OffsetResponse) { n += o.At })
	return n
}

// waitEveryMemberCommits waits until group is stable with n members, each owning
// partitions and having committed past where they stood once all were assigned: the
// cooperative hand-over is over and every process works, so a rate measured from now
// is the rate of n processes (a stable group alone can still be between the two
// rounds of a cooperative rebalance, the new member owning nothing yet).
func waitEveryMemberCommits(t *testing.T, adm *kadm.Client, group string, n int) {
	t.Helper()
	var owned []map[string][]int32 // per member: topic → partitions
	testenv.Eventually(t, 90*time.Second, fmt.Sprintf("group %s stable with %d members, each assigned partitions", group, n), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, group)
		g, ok := gs[group]
		if err != nil || !ok || g.State != "Stable" || len(g.Members) != n {
			return false
		}
		owned = owned[:0]
		for _, m := range g.Members {
			c, ok := m.Assigned.AsConsumer()
			if !ok || len(c.Topics) == 0 {
				return false
			}
			tps := map[string][]int32{}
			for _, tp := range c.Topics {
				tps[tp.Topic] = tp.Partitions
			}
			owned = append(owned, tps)
		}
		return true
	})
	base := fetchOffsets(t, adm, group)
	testenv.Eventually(t, 90*time.Second, fmt.Sprintf("every member of group %s committing", group), func() bool {
		now := fetchOffsets(t, adm, group)
		for _, tps := range owned {
			moved := false
			for topic, parts := range tps {
				for _, p := range parts {
					a, _ := base.Lookup(topic, p)
					b, ok := now.Lookup(topic, p)
					moved = moved || (ok && b.At > a.At)
				}
			}
			if !moved {
				return false
			}
		}
		return true
	})
}

func fetchOffsets(t *testing.T, adm *kadm.Client, group string) kadm.OffsetResponses {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil
	}
	return offs
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
