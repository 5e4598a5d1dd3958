package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

const testToken = "admin-token-for-tests-0001"

// stack is the whole system on kfake and miniredis, with a verifying receiver.
type stack struct {
	cfg  config.Config
	sys  *System
	recv *receiver.Receiver
	url  string

	mu       sync.Mutex
	received []receiver.Delivery // every request, in arrival order
}

// startStack starts the stack; mutate adjusts the configuration first.
func startStack(t *testing.T, mutate ...func(*config.Config)) *stack {
	t.Helper()
	cfg := config.Default()
	cfg.Delivery.RetrySchedule = []time.Duration{100 * time.Millisecond}
	cluster, rdb := fakeInfra(t, cfg)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	return runStack(t, cfg, rdb, mutate...)
}

// runStack runs every role of cfg on rdb and cfg's brokers, with a verifying receiver
// that egress allows.
func runStack(t *testing.T, cfg config.Config, rdb redis.UniversalClient, mutate ...func(*config.Config)) *stack {
	t.Helper()
	s := &stack{}
	recv := receiver.New(func(d receiver.Delivery) {
		s.mu.Lock()
		s.received = append(s.received, d)
		s.mu.Unlock()
	})
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port := u.Port()

	cfg.Egress = config.Egress{AllowHTTP: true, AllowCIDRs: []string{"127.0.0.0/8"}}
	var p int
	fmt.Sscan(port, &p)
	cfg.Egress.AllowPorts = []int{p}
	cfg.API.AdminTokens = []string{testToken}
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Ops.Listen = "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	ops := NewOps(cfg.Ops.Listen, zap.NewNop())
	sys, err := Build(cfg, Roles{Router: true, Sender: true, API: true}, Infra{Redis: rdb}, zap.NewNop(), ops)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Supervise(ctx, 10*time.Second, zap.NewNop(), append([]Runner{ops}, sys.Runners...)...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
		sys.Close()
	})
	s.cfg, s.sys, s.recv, s.url = cfg, sys, recv, srv.URL
	return s
}

func (s *stack) call(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.sys.API.Handler().ServeHTTP(w, req)
	raw, _ := io.ReadAll(w.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, raw)
		}
	}
	return w.Code
}

// waitTimeout bounds the waits for the in-process pipeline (kfake, miniredis).
const waitTimeout = 15 * time.Second

// TestDeliveryRoutesThroughTheRealPipeline: a test event reaches the endpoint, its
// attempt is listed, its delivery shows as delivered, and a redelivery arrives again
// with the same webhook-id.
func TestDeliveryRoutesThroughTheRealPipeline(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	sub, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: "acct_1", URL: s.url + "/hooks/1", Events: []string{"claim.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recv.SetSecret("/hooks/1", sub.Secrets[0].Value); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		EventID string `json:"event_id"`
	}
	if code := s.call(t, http.MethodPost, "/v1/subscriptions/"+sub.ID+"/test", `{"event_name":"claim.closed"}`, &sent); code != http.StatusAccepted {
		t.Fatalf("test event: status %d", code)
	}
	testenv.Eventually(t, waitTimeout, "the test delivery", func() bool { return s.recv.Stats().Unique == 1 })
	if st := s.recv.Stats(); st.Unverified != 0 {
		t.Fatalf("test delivery failed verification: %+v", st)
	}

	var attempts struct {
		Data []struct {
			DeliveryID string `json:"delivery_id"`
			EventID    string `json:"event_id"`
			Reason     string `json:"reason"`
			Status     int    `json:"status"`
		} `json:"data"`
	}
	testenv.Eventually(t, waitTimeout, "the attempt log", func() bool {
		s.call(t, http.MethodGet, "/v1/subscriptions/"+sub.ID+"/attempts", "", &attempts)
		return len(attempts.Data) == 1
	})
	a := attempts.Data[0]
	if a.EventID != sent.EventID || a.Reason != "ok" || a.Status != 200 {
		t.Fatalf("attempt = %+v, want the test event delivered with 200", a)
	}
	var dl struct {
		State string `json:"state"`
	}
	if code := s.call(t, http.MethodGet, "/v1/deliveries/"+a.DeliveryID, "", &dl); code != 200 || dl.State != "delivered" {
		t.Fatalf("delivery: %d %+v", code, dl)
	}
	if code := s.call(t, http.MethodPost, "/v1/deliveries/"+a.DeliveryID+"/redeliver", "", nil); code != http.StatusAccepted {
		t.Fatalf("redeliver: status %d", code)
	}
	testenv.Eventually(t, waitTimeout, "the redelivery", func() bool { return s.recv.Accepted(a.DeliveryID) == 2 })
	if code := s.call(t, http.MethodGet, "/v1/deliveries/msg_unknown", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown delivery: status %d, want 404", code)
	}
}
