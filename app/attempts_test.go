package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// apiAttempt is an attempt as GET .../attempts and GET /v1/deliveries/{id} return it.
type apiAttemptView struct {
	DeliveryID   string    `json:"delivery_id"`
	EventName    string    `json:"event_name"`
	Attempt      int       `json:"attempt"`
	At           time.Time `json:"at"`
	LatencyMS    *int64    `json:"latency_ms"`
	Reason       string    `json:"reason"`
	Status       int       `json:"status"`
	ResponseBody string    `json:"response_body"`
	Error        string    `json:"error"`
	Final        bool      `json:"final"`
}

// TestAttemptsShowResponseBodyAndError: what the attempt log stores about a failure —
// the endpoint's status and the start of its body, or the transport error — comes back
// from the API, through a real pipeline run, for a 500 and for a refused connection,
// and never with the endpoint URL's query string.
func TestAttemptsShowResponseBodyAndError(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("boom: claims database unavailable " + strings.Repeat("x", 4096)))
	}))
	t.Cleanup(failing.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there any more: connection refused
	s := startStack(t, func(cfg *config.Config) {
		cfg.Egress.AllowPorts = append(cfg.Egress.AllowPorts, failing.Listener.Addr().(*net.TCPAddr).Port, refused)
	})
	ctx := context.Background()
	create := func(url string) *subscriptions.Subscription {
		sub, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: "acct_1", URL: url, Events: []string{"claim.*"}})
		if err != nil {
			t.Fatal(err)
		}
		if code := s.call(t, http.MethodPost, "/v1/subscriptions/"+sub.ID+"/test", `{"event_name":"claim.closed"}`, nil); code != http.StatusAccepted {
			t.Fatalf("test event: status %d", code)
		}
		return sub
	}
	sub500 := create(failing.URL + "/hooks?token=s3cr3t")
	subRefused := create("http://127.0.0.1:" + strconv.Itoa(refused) + "/hooks?token=s3cr3t")

	// Both attempts (the first and the one retry) are listed, newest first; the last is final.
	listed := func(sub *subscriptions.Subscription) []apiAttemptView {
		var page struct {
			Data []apiAttemptView `json:"data"`
		}
		testenv.Eventually(t, waitTimeout, "two attempts of "+sub.URL, func() bool {
			s.call(t, http.MethodGet, "/v1/subscriptions/"+sub.ID+"/attempts", "", &page)
			return len(page.Data) == 2
		})
		if !page.Data[0].Final || page.Data[1].Final || page.Data[0].Attempt != 2 {
			t.Fatalf("attempts %+v: want attempt 2 (final) then attempt 1", page.Data)
		}
		return page.Data
	}
	for _, a := range listed(sub500) {
		if a.Status != 500 || a.Reason != "http_status" || a.EventName != "claim.closed" || a.At.IsZero() || a.LatencyMS == nil {
			t.Fatalf("attempt on the 500 endpoint: %+v", a)
		}
		if !strings.HasPrefix(a.ResponseBody, "boom: claims database unavailable") || len(a.ResponseBody) > 1024 {
			t.Fatalf("response_body %q (%d bytes): want the start of the endpoint's body, at most 1 KiB", a.ResponseBody, len(a.ResponseBody))
		}
		if !strings.Contains(a.Error, "500") {
			t.Fatalf("error %q: want it to say the endpoint answered 500", a.Error)
		}
	}
	refusedAttempts := listed(subRefused)
	for _, a := range refusedAttempts {
		if a.Status != 0 || a.Reason != "connection" || a.ResponseBody != "" {
			t.Fatalf("attempt on the refused endpoint: %+v", a)
		}
		if !strings.Contains(a.Error, "connection refused") || !strings.Contains(a.Error, "/hooks?REDACTED") || strings.Contains(a.Error, "s3cr3t") {
			t.Fatalf("error %q: want the refusal, the endpoint without its query", a.Error)
		}
	}

	// The delivery shows the same attempts, oldest first, and is dead (in the DLQ).
	var dl struct {
		State     string           `json:"state"`
		EventName string           `json:"event_name"`
		Attempts  []apiAttemptView `json:"attempts"`
	}
	testenv.Eventually(t, waitTimeout, "the delivery to reach the DLQ", func() bool {
		s.call(t, http.MethodGet, "/v1/deliveries/"+refusedAttempts[0].DeliveryID, "", &dl)
		return dl.State == "dead"
	})
	if len(dl.Attempts) != 2 || dl.Attempts[0].Attempt != 1 || dl.EventName != "claim.closed" ||
		dl.Attempts[0].Error == "" || dl.Attempts[1].Error != refusedAttempts[0].Error {
		t.Fatalf("delivery %+v", dl)
	}
}

// TestAttemptsCursorNotIssuedIsBadCursor: the attempt log's cursor is a position; one it
// never issued is api.ErrBadCursor (400 bad-request naming after), not a 422.
func TestAttemptsCursorNotIssuedIsBadCursor(t *testing.T) {
	d := &deliveryAPI{}
	for _, after := range []string{"abc", "-1", "1e3"} {
		if _, _, err := d.ListAttempts(context.Background(), "sub_1", after, 10); !errors.Is(err, api.ErrBadCursor) {
			t.Errorf("after=%q: err = %v, want api.ErrBadCursor", after, err)
		}
	}
}
