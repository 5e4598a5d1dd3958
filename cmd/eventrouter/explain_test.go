package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/subscriptions"
)

// TestExplainPrintsTheDecidingRuleFromTheAPI runs `eventrouter explain` against a real
// admin API server (in-memory store): a fire claim does not reach a theft-only
// subscription, and the printout names the filter clause and the value it saw.
func TestExplainPrintsTheDecidingRuleFromTheAPI(t *testing.T) {
	svc := subscriptions.NewService(subscriptions.NewMemoryStore(), subscriptions.Policy{Catalogue: config.DefaultCatalogue}, nil)
	sub, err := svc.Create(context.Background(), subscriptions.Input{AccountID: "acct_1", URL: "https://hooks.example.com/in",
		Events: []string{"claim.*"}, Filter: `claim.type == "theft"`})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{AdminTokens: []string{"tok"}, EventTypes: config.DefaultCatalogue}, api.Deps{Subscriptions: svc}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ev := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(ev, []byte(`{"id":"evt_7","account_id":"acct_1","event_name":"claim.created","object":"claim",
"source":"api","performed_by":"token:crm","occurred_at":"2026-12-01T10:00:00Z","data":{"id":"clm_7","type":"fire"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "explain", "--api", ts.URL, "--token", "tok", "--subscription", sub.ID, "-f", ev)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	for _, want := range []string{"NOT ROUTED (decided by filter)", `claim.type == "theft" → false  (saw claim.type = "fire")`,
		"account  pass", "delivery", "not in the attempt log"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := run(t, "explain", "--api", ts.URL, "--token", "wrong", "--subscription", sub.ID, "-f", ev); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong token: %v, want the API's 401", err)
	}
}
