package delivery

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestFailedAttemptLogNeverShowsQueryOrUserinfo: the debug line of a failed attempt
// names the endpoint without its query string (where receivers put tokens), and so
// does the error kept for the attempt log.
func TestFailedAttemptLogNeverShowsQueryOrUserinfo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close() // connection refused: net/http's error quotes the URL
	u := base + "/hook?token=s3cr3t-query-token&sig=abc"
	core, logs := observer.New(zapcore.DebugLevel)
	c := testClient(t, base, nil)
	c.log = zap.New(core)

	res := c.Send(context.Background(), testSub(u), testDelivery(), time.Now())
	if res.Reason != ReasonConnection || res.Err == nil {
		t.Fatalf("result = %+v, want a connection failure", res)
	}
	if msg := res.Err.Error(); strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, base+"/hook?REDACTED") {
		t.Fatalf("Result.Err = %q: want the redacted URL, never the query", msg)
	}
	entries := logs.FilterMessage("delivery attempt failed").All()
	if len(entries) != 1 {
		t.Fatalf("want one debug line for the failed attempt, got %d", len(entries))
	}
	for k, v := range entries[0].ContextMap() {
		if s, ok := v.(string); ok && strings.Contains(s, "s3cr3t") {
			t.Fatalf("log field %s = %q carries the query string", k, s)
		}
	}
	if got := entries[0].ContextMap()["error"]; !strings.Contains(got.(string), "?REDACTED") {
		t.Fatalf("error field %q does not name the redacted endpoint", got)
	}
}
