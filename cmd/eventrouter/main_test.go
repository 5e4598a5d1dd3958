package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the tests without the EVENTROUTER_* settings of the shell that runs
// them: each test configures the program itself (a file, t.Setenv, a child's env), and
// a setting left in the environment overrides the file a test gives (CI on other ports
// exports EVENTROUTER_KAFKA_BROKERS, which hid the bad broker of the validate test).
// EVENTROUTER_TEST_* and EVENTROUTER_RUN_DIR stay: they say where the test services are.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "EVENTROUTER_") && !strings.HasPrefix(k, "EVENTROUTER_TEST_") && k != "EVENTROUTER_RUN_DIR" {
			_ = os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}
