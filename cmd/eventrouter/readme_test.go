package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/config"
)

// TestREADMESetUpWorksAsWritten checks the README's "run the roles yourself" block the
// way a new user would follow it: every configuration file it names exists (or was just
// copied from one that does) and is valid, every command exists, `topics create` makes
// the ingest topics too, and the roles run side by side get distinct ops ports.
func TestREADMESetUpWorksAsWritten(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, b := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(raw), -1) {
		if strings.Contains(b[1], "topics create") {
			block = b[1]
		}
	}
	if block == "" {
		t.Fatal("README has no set-up block with `topics create`")
	}
	files := map[string]bool{}
	opsPorts := map[string]string{}
	sawCreate := false
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "cp" && len(f) == 3 {
			if _, err := os.Stat(filepath.Join("../..", f[1])); err != nil {
				t.Errorf("README copies %s, which does not exist", f[1])
			}
			files[f[2]] = true
			if _, err := config.Load(config.Source{File: filepath.Join("../..", f[1]), Env: map[string]string{}}); err != nil {
				t.Errorf("%s (copied to %s) is not a valid configuration: %v", f[1], f[2], err)
			}
			continue
		}
		if f[0] != "bin/eventrouter" {
			continue
		}
		if c, _, err := newRootCmd().Find(f[1:]); err != nil || c == nil || c.Name() == "eventrouter" {
			t.Errorf("README runs %q: no such command", strings.Join(f, " "))
		}
		for i, arg := range f {
			if (arg == "-c" || arg == "--config" || arg == "-f") && i+1 < len(f) {
				if _, err := os.Stat(filepath.Join("../..", f[i+1])); err != nil && !files[f[i+1]] {
					t.Errorf("%q names %s, which neither exists nor was copied before", strings.Join(f, " "), f[i+1])
				}
			}
			if arg == "--ops-listen" && i+1 < len(f) {
				if other, dup := opsPorts[f[i+1]]; dup {
					t.Errorf("%s and %s share the ops address %s", other, f[1], f[i+1])
				}
				opsPorts[f[i+1]] = f[1]
			}
		}
		if len(f) > 2 && f[1] == "topics" && f[2] == "create" {
			sawCreate = true
			if !strings.Contains(line, "--include-ingest") {
				t.Errorf("%q does not create the ingest topics (--include-ingest): the router would wait for them", strings.TrimSpace(line))
			}
		}
	}
	if !sawCreate {
		t.Error("the set-up block never runs topics create")
	}
	for _, role := range []string{"router", "sender", "api"} {
		found := false
		for addr, r := range opsPorts {
			found = found || (r == role && addr != "")
		}
		if !found {
			t.Errorf("README runs the %s role without its own --ops-listen: the roles would collide on :9090", role)
		}
	}
}
