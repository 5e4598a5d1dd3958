package helm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot is the eventrouter module: this module lives in <root>/deploy/helm.
const repoRoot = "../.."

// TestChartCommandsExist runs every container's arguments with --help against the real
// eventrouter binary: the subcommand must resolve (cobra prints its usage line) and
// every flag must parse (an unknown flag fails before --help is honoured).
func TestChartCommandsExist(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "eventrouter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/eventrouter")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/eventrouter: %v\n%s", err, out)
	}
	m := render(t, allOn)
	ws, _ := m.workloads()
	seen := 0
	for _, role := range roles {
		w, ok := ws[role]
		if !ok {
			t.Fatalf("no %s workload", role)
		}
		spec := w.Template.Spec
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			seen++
			if err := commandExists(bin, c.Args); err != nil {
				t.Errorf("%s/%s: %v", w.Name, c.Name, err)
			}
		}
	}
	if seen < 5 {
		t.Errorf("checked %d containers, want the three roles and the two topics init containers", seen)
	}
	// The check itself rejects what the pods would fail on.
	for _, args := range [][]string{{"--config=x", "senders"}, {"topics", "create", "--ingest"}, {"--conf=x", "router"}} {
		if commandExists(bin, args) == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func commandExists(bin string, args []string) error {
	var path []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			path = append(path, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(args), "--help")...)
	cmd.Env = []string{"HOME=" + os.TempDir()} // no EVENTROUTER_* from the test's environment
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("eventrouter %s --help: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	// cobra falls back to the nearest parent's help for an unknown subcommand below the
	// root, so the usage line must name the whole path.
	usage := regexp.MustCompile(`(?m)^  eventrouter ` + regexp.QuoteMeta(strings.Join(path, " ")) + `( |$)`)
	if !usage.MatchString(out.String()) {
		return fmt.Errorf("eventrouter %s: not a command (its --help shows another command's usage)\n%s", strings.Join(path, " "), out.String())
	}
	return nil
}
