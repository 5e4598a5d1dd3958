package main

import (
	"net"
	"os"
	"testing"
)

// TestDevModeBindsLoopbackByDefault: with no address given, everything `eventrouter dev`
// serves — the admin API (whose token it prints), metrics, the demo receiver and the
// embedded Kafka — listens on 127.0.0.1 only; an address the user gives still wins.
func TestDevModeBindsLoopbackByDefault(t *testing.T) {
	for _, k := range []string{"EVENTROUTER_API_LISTEN", "EVENTROUTER_OPS_LISTEN"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	devCmd := func(args ...string) (string, string, map[string]string) {
		t.Helper()
		root := newRootCmd()
		dev, _, err := root.Find([]string{"dev"})
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := devConfig(dev)
		if err != nil {
			t.Fatal(err)
		}
		flags := map[string]string{}
		for _, f := range []string{"kafka-listen", "receiver-listen"} {
			flags[f], _ = dev.Flags().GetString(f)
		}
		return cfg.API.Listen, cfg.Ops.Listen, flags
	}
	api, ops, flags := devCmd()
	for what, addr := range map[string]string{"api": api, "ops": ops, "kafka": flags["kafka-listen"], "receiver": flags["receiver-listen"]} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Errorf("dev %s listens on %q by default, want 127.0.0.1", what, addr)
		}
	}
	if api, ops, _ := devCmd("--api-listen", ":18080", "--ops-listen", "0.0.0.0:19090"); api != ":18080" || ops != "0.0.0.0:19090" {
		t.Errorf("flags: api %q ops %q, want the given addresses", api, ops)
	}
	t.Setenv("EVENTROUTER_API_LISTEN", "0.0.0.0:28080")
	if api, _, _ := devCmd(); api != "0.0.0.0:28080" {
		t.Errorf("environment: api %q, want 0.0.0.0:28080", api)
	}
}
