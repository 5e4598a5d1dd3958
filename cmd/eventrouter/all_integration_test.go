//go:build integration

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
)

// TestAllRoleAgainstRealServices runs `eventrouter all` against the real broker and
// Redis as an operator would: topics created by the CLI, a subscription through the
// API, an event through `eventrouter emit`, a verified delivery at the endpoint, health
// and metrics on the ops listener, and a clean exit on SIGTERM.
func TestAllRoleAgainstRealServices(t *testing.T) {
	seeds := testenv.Kafka(t)
	testenv.Redis(t)
	prefix := testenv.RedisPrefix(t)
	name := testenv.Name(t, "all")
	bin := filepath.Join(t.TempDir(), "eventrouter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	recv := receiver.New(nil)
	srv := httptest.NewServer(recv)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	apiAddr, opsAddr := freeAddr(t), freeAddr(t)
	const token = "integration-admin-token-0001"
	env := append(os.Environ(),
		"EVENTROUTER_KAFKA_BROKERS="+strings.Join(seeds, ","),
		"EVENTROUTER_REDIS_ADDR="+testenv.RedisAddr(),
		"EVENTROUTER_REDIS_KEY_PREFIX="+prefix,
		"EVENTROUTER_TOPICS_INGEST="+name+".claims,"+name+".contacts",
		"EVENTROUTER_TOPICS_INGEST_OBJECTS="+name+".claims=claim,"+name+".contacts=contact",
		"EVENTROUTER_TOPICS_DELIVERIES="+name+".deliveries",
		"EVENTROUTER_TOPICS_INVALID="+name+".invalid",
		"EVENTROUTER_TOPICS_DLQ="+name+".dlq",
		"EVENTROUTER_TOPICS_OPERATIONAL="+name+".operational",
		"EVENTROUTER_ROUTER_OPERATIONAL_GROUP="+name+"-operational",
		"EVENTROUTER_TOPICS_RETRY_PREFIX="+name+".retry.",
		"EVENTROUTER_TOPICS_PARTITIONS=3",
		"EVENTROUTER_ROUTER_GROUP="+name+"-router",
		"EVENTROUTER_ROUTER_TRANSACTIONAL_ID_PREFIX="+name,
		"EVENTROUTER_DELIVERY_GROUP="+name+"-sender",
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE=1s,2s",
		"EVENTROUTER_EGRESS_ALLOW_HTTP=true",
		"EVENTROUTER_EGRESS_ALLOW_CIDRS=127.0.0.0/8",
		"EVENTROUTER_EGRESS_ALLOW_PORTS="+u.Port(),
		"EVENTROUTER_API_LISTEN="+apiAddr,
		"EVENTROUTER_API_ADMIN_TOKENS="+token,
		"EVENTROUTER_OPS_LISTEN="+opsAddr,
		"EVENTROUTER_OPS_SHUTDOWN_TIMEOUT=20s",
	)
	runCLI := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("eventrouter %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := runCLI("topics", "create", "--include-ingest")
	if !strings.Contains(out, "created") || !strings.Contains(out, name+".deliveries") {
		t.Fatalf("topics create:\n%s", out)
	}
	if again := runCLI("topics", "create", "--include-ingest"); strings.Contains(again, "created ") {
		t.Fatalf("topics create is not idempotent:\n%s", again)
	}
	t.Cleanup(func() {
		adm := testenv.KafkaAdmin(t)
		var all []string
		for _, s := range []string{".claims", ".contacts", ".deliveries", ".invalid", ".dlq", ".operational", ".retry.1s", ".retry.2s"} {
			all = append(all, name+s)
		}
		_, _ = adm.DeleteTopics(testenv.Context(t, 30*time.Second), all...)
	})

	proc := exec.Command(bin, "all")
	proc.Env = env
	var logs bytes.Buffer
	proc.Stderr = &logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proc.Process.Kill() }()
	defer func() {
		if t.Failed() {
			t.Logf("receiver %+v; eventrouter all's log:\n%s", recv.Stats(), tail(logs.String()))
		}
	}()

	ops := "http://" + opsAddr
	waitHTTP(t, ops+"/healthz", 200, 30*time.Second)
	waitHTTP(t, ops+"/readyz", 200, 60*time.Second)

	body := fmt.Sprintf(`{"account_id":"acct_it","url":"%s/hooks/it","events":["claim.*"]}`, srv.URL)
	req, _ := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/v1/subscriptions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create subscription: %d %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &created); err != nil || created.Secret == "" {
		t.Fatalf("create response lacks the secret: %s", raw)
	}
	if err := recv.SetSecret("/hooks/it", created.Secret); err != nil {
		t.Fatal(err)
	}
	// The index picks the subscription up within a second; give it that before emitting.
	time.Sleep(1500 * time.Millisecond)
	runCLI("emit", "--event", "claim.created", "--event", "claim.closed", "--account", "acct_it", "--count", "5")
	testenv.Eventually(t, 60*time.Second, "10 unique deliveries", func() bool { return recv.Stats().Unique >= 10 })
	if st := recv.Stats(); st.Unverified != 0 {
		t.Fatalf("unverified deliveries: %+v", st)
	}
	// A contact event on the claims topic is a producer's mistake: with the default
	// router.wrong_topic it goes to the invalid topic, counted, and is not delivered.
	runCLI("emit", "--topic", name+".claims", "--event", "contact.created", "--account", "acct_it")
	wrongTopic := `eventrouter_router_events_wrong_topic_total{topic="` + name + `.claims"} 1`
	invalidWrongTopic := `eventrouter_router_events_invalid_total{reason="wrong_topic"} 1`
	testenv.Eventually(t, 60*time.Second, "/metrics to show "+wrongTopic+" and "+invalidWrongTopic, func() bool {
		m := getBody(t, ops+"/metrics")
		return strings.Contains(m, wrongTopic) && strings.Contains(m, invalidWrongTopic)
	})
	metrics := getBody(t, ops+"/metrics")
	for _, m := range []string{"eventrouter_router_", "eventrouter_sender_", "eventrouter_api_requests_total", "eventrouter_subscriptions_index_subscriptions"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	start := time.Now()
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, tail(logs.String()))
		}
		t.Logf("graceful shutdown took %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM\n%s", tail(logs.String()))
	}
}

func waitHTTP(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	last := ""
	defer func() {
		if t.Failed() {
			t.Logf("%s last answered: %s", url, last)
		}
	}()
	testenv.Eventually(t, within, fmt.Sprintf("%s to answer %d", url, want), func() bool {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		return resp.StatusCode == want
	})
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func tail(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
