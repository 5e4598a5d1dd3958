package routes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/subscriptions"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newService(t *testing.T) *subscriptions.Service {
	t.Helper()
	return subscriptions.NewService(subscriptions.NewMemoryStore(), subscriptions.Policy{
		Catalogue:        []string{"claim.created", "claim.closed", "contact.created"},
		RotationGrace:    24 * time.Hour,
		RotationGraceMax: 7 * 24 * time.Hour,
	}, nil)
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

const baseFile = `
routes:
  - name: acme-claims
    account_id: acct_acme
    url: https://hooks.acme.example/claims
    events: ["claim.*"]
    filter: 'source == "api"'
    secret: ${ACME_WEBHOOK_SECRET}
    headers: {X-Team: claims}
    enabled: true
  - name: acme-contacts
    account_id: acct_acme
    url: https://hooks.acme.example/contacts
    events: [contact.created]
`

func parse(t *testing.T, doc string) *File {
	t.Helper()
	f, err := Parse([]byte(doc), env(map[string]string{"ACME_WEBHOOK_SECRET": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func plan(t *testing.T, svc *subscriptions.Service, f *File, prune bool) *Plan {
	t.Helper()
	p, err := NewPlan(t.Context(), svc, f, prune)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func actions(p *Plan) string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, string(s.Action)+":"+s.Name)
	}
	return strings.Join(out, " ")
}

func TestApplyCreatesThenSecondPlanIsAllUnchanged(t *testing.T) {
	svc := newService(t)
	f := parse(t, baseFile)
	p := plan(t, svc, f, true)
	if got := actions(p); got != "create:acme-claims create:acme-contacts" {
		t.Fatalf("first plan: %s", got)
	}
	if err := Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	subs, _, err := svc.List(t.Context(), subscriptions.ListOptions{AccountID: "acct_acme"})
	if err != nil || len(subs) != 2 {
		t.Fatalf("store holds %d, %v", len(subs), err)
	}
	for _, s := range subs {
		if s.Name == "acme-claims" && (s.Secrets[0].Value != testSecret || s.Headers["X-Team"] != "claims" || s.Filter == "") {
			t.Fatalf("claims route stored as %+v", s)
		}
	}
	again := plan(t, svc, parse(t, baseFile), true)
	if again.HasChanges() {
		t.Fatalf("second plan has changes: %s", actions(again))
	}
	if err := Apply(t.Context(), again); err != nil {
		t.Fatal(err)
	}
}

func TestPlanUpdatesOnlyChangedFieldsAndRotatesSecret(t *testing.T) {
	svc := newService(t)
	if err := Apply(t.Context(), plan(t, svc, parse(t, baseFile), false)); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(baseFile, "https://hooks.acme.example/claims", "https://hooks.acme.example/v2", 1)
	changed = strings.Replace(changed, `secret: ${ACME_WEBHOOK_SECRET}`, `secret: ${NEXT}`, 1)
	next := subscriptions.NewSecret()
	f, err := Parse([]byte(changed), env(map[string]string{"NEXT": next}))
	if err != nil {
		t.Fatal(err)
	}
	p := plan(t, svc, f, false)
	if got := actions(p); got != "update:acme-claims unchanged:acme-contacts" {
		t.Fatalf("plan: %s", got)
	}
	var fieldsChanged []string
	for _, c := range p.Steps[0].Changes {
		fieldsChanged = append(fieldsChanged, c.Field)
	}
	if strings.Join(fieldsChanged, ",") != "url,secret" {
		t.Fatalf("changed fields %v", fieldsChanged)
	}
	var out bytes.Buffer
	if err := p.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), next) || strings.Contains(out.String(), testSecret) {
		t.Fatalf("printed plan reveals a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "https://hooks.acme.example/v2") || !strings.Contains(out.String(), "1 to update, 1 unchanged") {
		t.Fatalf("printed plan:\n%s", out.String())
	}
	if err := Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	sub, _ := svc.Get(t.Context(), p.Steps[0].ID)
	if sub.URL != "https://hooks.acme.example/v2" || len(sub.Secrets) != 2 || sub.Secrets[0].Value != next || sub.Secrets[1].Value != testSecret {
		t.Fatalf("after apply: url %s, %d secrets", sub.URL, len(sub.Secrets))
	}
	if plan(t, svc, f, false).HasChanges() {
		t.Fatal("re-plan after update has changes")
	}
}

func TestPruneDeletesOnlyManagedSubscriptionsAbsentFromFile(t *testing.T) {
	svc := newService(t)
	if err := Apply(t.Context(), plan(t, svc, parse(t, baseFile), false)); err != nil {
		t.Fatal(err)
	}
	apiSub, err := svc.Create(t.Context(), subscriptions.Input{AccountID: "acct_acme", URL: "https://api.acme.example/x", Events: []string{"claim.created"}})
	if err != nil {
		t.Fatal(err)
	}
	oneRoute := baseFile[:strings.Index(baseFile, "  - name: acme-contacts")]
	if got := actions(plan(t, svc, parse(t, oneRoute), false)); got != "unchanged:acme-claims" {
		t.Fatalf("without prune: %s", got)
	}
	p := plan(t, svc, parse(t, oneRoute), true)
	if got := actions(p); got != "unchanged:acme-claims delete:acme-contacts" {
		t.Fatalf("with prune: %s", got)
	}
	if err := Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(t.Context(), apiSub.ID); err != nil {
		t.Fatalf("prune touched an API-created subscription: %v", err)
	}
	subs, _, _ := svc.List(t.Context(), subscriptions.ListOptions{})
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions left, want 2", len(subs))
	}
}

func TestParseRefusesUnsetEnvSecret(t *testing.T) {
	_, err := Parse([]byte(baseFile), env(nil))
	if err == nil || !strings.Contains(err.Error(), "routes[0].secret") || !strings.Contains(err.Error(), "ACME_WEBHOOK_SECRET") {
		t.Fatalf("error %v", err)
	}
	_, err = Parse([]byte(strings.Replace(baseFile, "${ACME_WEBHOOK_SECRET}", "whsec_${X}", 1)), env(map[string]string{"X": "y"}))
	if err == nil || !strings.Contains(err.Error(), "routes[0].secret") {
		t.Fatalf("partial reference: %v", err)
	}
}

func TestParseIsStrict(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"unknown key":   {"routes:\n  - name: a\n    account_id: x\n    colour: red\n", "line 4: field colour not found"},
		"unknown top":   {"route: []\n", "line 1: field route not found"},
		"missing name":  {"routes:\n  - account_id: x\n", "routes[0].name: is required"},
		"bad name":      {"routes:\n  - name: 'a b'\n    account_id: x\n", "routes[0].name"},
		"missing acct":  {"routes:\n  - name: a\n", "routes[0].account_id: is required"},
		"duplicate":     {"routes:\n  - {name: a, account_id: x}\n  - {name: a, account_id: x}\n", "routes[1].name"},
		"empty":         {"", "empty"},
		"two documents": {"routes: []\n---\nroutes: []\n", "one YAML document"},
		"wrong type":    {"routes:\n  - name: a\n    account_id: x\n    events: claim.created\n", "line 4"},
		"not a mapping": {"- a\n", "line 1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), env(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestPlanNamesInvalidFieldsByRouteIndex(t *testing.T) {
	svc := newService(t)
	doc := baseFile + "  - name: broken\n    account_id: acct_acme\n    url: ftp://nope\n    events: [claim.exploded]\n"
	_, err := NewPlan(t.Context(), svc, parse(t, doc), false)
	var rerr *Error
	if !errors.As(err, &rerr) {
		t.Fatalf("error %v is not *Error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "routes[2].url") || !strings.Contains(msg, "routes[2].events") || strings.Contains(msg, "routes[0]") {
		t.Fatalf("error %s", msg)
	}
	bad := strings.Replace(baseFile, "${ACME_WEBHOOK_SECRET}", "whsec_short", 1)
	if _, err := NewPlan(t.Context(), svc, parse(t, bad), false); err == nil || !strings.Contains(err.Error(), "routes[0].secret") {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestLoadReadsFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(baseFile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_WEBHOOK_SECRET", testSecret)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Routes) != 2 || string(f.Routes[0].Secret) != testSecret {
		t.Fatalf("loaded %d routes", len(f.Routes))
	}
	if s := fmt.Sprintf("%v %+v %#v", f.Routes[0], f.Routes[0], f.Routes[0]); strings.Contains(s, testSecret) {
		t.Fatalf("formatting a route reveals its secret: %s", s)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(baseFile))
	f.Add([]byte("routes: []\n"))
	f.Add([]byte("routes:\n  - {name: a, account_id: x, secret: '${A}'}\n"))
	f.Add([]byte("routes: [&a {name: *a}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, env(map[string]string{"A": testSecret}))
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
	})
}

// TestPrintedPlanNeverShowsQueryStrings: receivers often take a token in the query
// string; the printed plan names the endpoint without it, for creates and updates, and
// an update that changes only the query still says the URL changed.
func TestPrintedPlanNeverShowsQueryStrings(t *testing.T) {
	svc := newService(t)
	withQuery := strings.Replace(baseFile, "https://hooks.acme.example/claims", "https://hooks.acme.example/claims?token=s3cr3t-one", 1)
	p := plan(t, svc, parse(t, withQuery), false)
	var out bytes.Buffer
	if err := p.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cr3t") || !strings.Contains(out.String(), "url: https://hooks.acme.example/claims?REDACTED") {
		t.Fatalf("create plan:\n%s", out.String())
	}
	if err := Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(withQuery, "s3cr3t-one", "s3cr3t-two", 1)
	p = plan(t, svc, parse(t, changed), false)
	out.Reset()
	if err := p.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cr3t") || !strings.Contains(out.String(),
		`url: "https://hooks.acme.example/claims?REDACTED" → "https://hooks.acme.example/claims?REDACTED (query changed)"`) {
		t.Fatalf("update plan:\n%s", out.String())
	}
	_, err := NewPlan(t.Context(), svc, parse(t, strings.Replace(baseFile, "https://hooks.acme.example/claims", "https://hooks.acme.example/%zz?token=s3cr3t", 1)), false)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "url") {
		t.Fatalf("an unparseable URL's error must name the field, never echo the URL: %v", err)
	}
}

func TestRoutesFileShapesThePayloadIdempotently(t *testing.T) {
	svc := newService(t)
	shaped := strings.Replace(baseFile, "    events: [\"claim.*\"]", "    events: [\"claim.*\"]\n    payload: thin\n    redact: [claim.assignee.email]", 1)
	if shaped == baseFile {
		t.Fatal("the test file did not change: fix the replacement")
	}
	f := parse(t, shaped)
	if err := Apply(t.Context(), plan(t, svc, f, false)); err != nil {
		t.Fatal(err)
	}
	subs, _, _ := svc.List(t.Context(), subscriptions.ListOptions{AccountID: "acct_acme"})
	var claims *subscriptions.Subscription
	for _, s := range subs {
		if s.Name == "acme-claims" {
			claims = s
		}
	}
	if claims == nil || claims.Payload != "thin" || len(claims.Redact) != 1 || claims.Redact[0] != "claim.assignee.email" {
		t.Fatalf("stored route = %+v", claims)
	}
	if p := plan(t, svc, parse(t, shaped), false); p.HasChanges() {
		t.Fatalf("re-plan of the same file has changes: %s", actions(p))
	}
	p := plan(t, svc, parse(t, baseFile), false)
	var changed []string
	for _, c := range p.Steps[0].Changes {
		changed = append(changed, c.Field)
	}
	if strings.Join(changed, ",") != "payload,redact" {
		t.Errorf("dropping the shape changes %v, want payload,redact", changed)
	}
}

// A routes file can declare an account's operational subscription.
func TestRoutesFileDeclaresAnOperationalSubscription(t *testing.T) {
	svc := newService(t)
	f := parse(t, `
routes:
  - name: acme-ops
    account_id: acct_acme
    url: https://hooks.acme.example/ops
    events: ["subscription.*", delivery.exhausted, endpoint.failing]
`)
	p := plan(t, svc, f, false)
	if err := Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	subs, _, err := svc.List(t.Context(), subscriptions.ListOptions{AccountID: "acct_acme"})
	if err != nil || len(subs) != 1 || !subs[0].WantsOperational("endpoint.failing") || subs[0].WantsOperational("claim.created") {
		t.Fatalf("stored %+v, %v", subs, err)
	}
	_, err = NewPlan(t.Context(), svc, parse(t, `
routes:
  - name: acme-ops
    account_id: acct_acme
    url: https://hooks.acme.example/ops
    events: [endpoint.flapping]
`), false)
	if err == nil || !strings.Contains(err.Error(), "events[0]") || !strings.Contains(err.Error(), "endpoint.flapping") {
		t.Fatalf("unknown operational type: %v, want an error naming events[0]", err)
	}
}
