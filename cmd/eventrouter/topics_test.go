package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// `topics create` without --include-ingest names the ingest topics that do not exist
// (the router would wait for them); with it, it creates them.
func TestTopicsCreateNamesOrCreatesTheIngestTopics(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(args ...string) string {
		t.Helper()
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(append([]string{"topics", "create", "--brokers", c.ListenAddrs()[0], "--log-level", "error"}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("topics create %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := run()
	for _, topic := range []string{"claims.events", "contacts.events"} {
		if !strings.Contains(out, "missing  "+topic+" (ingest topic") {
			t.Errorf("without --include-ingest, %s is not named as missing:\n%s", topic, out)
		}
	}
	out = run("--include-ingest")
	for _, topic := range []string{"claims.events", "contacts.events"} {
		if !strings.Contains(out, "created  "+topic) {
			t.Errorf("--include-ingest did not create %s:\n%s", topic, out)
		}
	}
	if out = run(); strings.Contains(out, "missing") {
		t.Errorf("ingest topics exist, yet reported missing:\n%s", out)
	}
}
