package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/claimable/eventrouter/subscriptions"
)

func TestRoutesApplyIsIdempotentAndNeverPrintsSecrets(t *testing.T) {
	mini := miniredis.RunT(t)
	file := filepath.Join(t.TempDir(), "routes.yaml")
	body := `routes:
  - name: acme-claims
    account_id: acct_acme
    url: https://hooks.acme.example/claims?token=query-s3cr3t
    events: ["claim.*"]
    filter: 'source == "api"'
    secret: ${ACME_SECRET}
`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	t.Setenv("ACME_SECRET", secret)

	out, _, err := run(t, "routes", "apply", "-f", file, "--redis", mini.Addr(), "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "acme-claims") || strings.Contains(out, "applied") {
		t.Fatalf("dry run must show the plan and change nothing:\n%s", out)
	}
	if keys := mini.Keys(); len(keys) != 0 && strings.Contains(strings.Join(keys, ","), "sub") {
		t.Fatalf("dry run wrote to Redis: %v", keys)
	}
	out, _, err = run(t, "routes", "apply", "-f", file, "--redis", mini.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "applied") {
		t.Fatalf("first apply should change something:\n%s", out)
	}
	again, _, err := run(t, "routes", "apply", "-f", file, "--redis", mini.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(again, "applied") {
		t.Fatalf("second apply of the same file changed something:\n%s", again)
	}
	for _, o := range []string{out, again} {
		if strings.Contains(o, secret) || strings.Contains(o, "MfKQ9r8") || strings.Contains(o, "query-s3cr3t") {
			t.Fatalf("a secret or the URL's query string was printed:\n%s", o)
		}
	}
}

// routes apply opens the store as the roles do: subscriptions.stream_max_len caps the
// change stream its writes append to (it once kept the store's built-in 10 000).
func TestRoutesApplyHonoursStreamMaxLen(t *testing.T) {
	var b strings.Builder
	b.WriteString("routes:\n")
	const n = 120
	for i := range n {
		fmt.Fprintf(&b, "  - name: route-%03d\n    account_id: acct_%d\n    url: https://hooks.example.com/%d\n    events: [\"claim.*\"]\n", i, i%4, i)
	}
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	changes := "er:" + subscriptions.HashTag + "changes"
	for _, tc := range []struct {
		maxLen string // EVENTROUTER_SUBSCRIPTIONS_STREAM_MAX_LEN; "" the default, 10 000
		want   int
	}{{"", n}, {"100", 100}} {
		mini := miniredis.RunT(t)
		if tc.maxLen != "" {
			t.Setenv("EVENTROUTER_SUBSCRIPTIONS_STREAM_MAX_LEN", tc.maxLen)
		}
		if out, _, err := run(t, "routes", "apply", "-f", file, "--redis", mini.Addr()); err != nil || !strings.Contains(out, "applied") {
			t.Fatalf("stream_max_len %q: routes apply: %v\n%s", tc.maxLen, err, out)
		}
		entries, err := mini.Stream(changes)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != tc.want {
			t.Errorf("stream_max_len %q: the change stream holds %d entries after %d creates, want %d", tc.maxLen, len(entries), n, tc.want)
		}
	}
}
