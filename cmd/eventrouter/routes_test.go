package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
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
