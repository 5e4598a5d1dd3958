package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

func TestHelpListsEverySubcommand(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"router", "sender", "api", "all", "dev", "emit", "topics", "routes", "dlq", "ops", "replay", "config", "version"} {
		if !strings.Contains(out, "\n  "+sub+" ") {
			t.Errorf("--help does not list %q:\n%s", sub, out)
		}
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	body := "log:\n  level: loud\ndelivery:\n  timeout: 1ms\nkafka:\n  brokers: [nohost]\ntypo_key: 1\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, "config", "validate", "-f", file)
	if err == nil {
		t.Fatal("an invalid file must fail")
	}
	for _, want := range []string{"log.level", `(got "loud")`, "delivery.timeout", "kafka.brokers[0]", "typo_key: unknown key"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestConfigValidatePrintsRedactedEffectiveConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ok.yaml")
	body := "redis:\n  password: hunter2-hunter2\napi:\n  admin_tokens: [admin-token-0123456789]\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "config", "validate", "-f", file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "admin-token") {
		t.Fatalf("secrets printed:\n%s", out)
	}
	if !strings.Contains(out, "password: (redacted)") || !strings.Contains(out, "timeout: 15s") {
		t.Fatalf("effective config incomplete:\n%s", out)
	}
}

func TestReplayRefusesABadWindowBeforeConnecting(t *testing.T) {
	for args, want := range map[string]string{
		"--from yesterday --to 2026-11-30T10:00Z":                      "--from",
		"--from 2026-11-30T10:00Z --to 2026-11-30T09:00Z":              "to: must be after from",
		"--from 2026-11-30T10:00Z --to 2026-11-30T11:00Z --event nope": "events[0]",
		"--dry-run": "--from and --to are required",
	} {
		_, _, err := run(t, append([]string{"replay", "--redis", "127.0.0.1:1"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("replay %s: error %v, want it to name %q", args, err, want)
		}
	}
}
