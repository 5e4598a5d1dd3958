// Package deploy_test checks docker-compose.yml and the Dockerfile structurally. CI has no
// Docker engine, so the stack is never started there; these tests make sure that what
// compose would run exists: every eventrouter command is a real CLI command with real
// flags, every EVENTROUTER_* variable is a real configuration key with a valid value, and
// the services are wired so that scaling, health and start order work.
package deploy_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/claimable/eventrouter/config"
)

// repoRoot is the module root: this package lives in <root>/deploy.
const repoRoot = ".."

// compose is the part of a compose file these tests read.
type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image           string             `yaml:"image"`
	Build           any                `yaml:"build"`
	Command         words              `yaml:"command"`
	Environment     env                `yaml:"environment"`
	ContainerName   string             `yaml:"container_name"`
	Ports           []any              `yaml:"ports"`
	Restart         string             `yaml:"restart"`
	StopGracePeriod string             `yaml:"stop_grace_period"`
	DependsOn       map[string]depends `yaml:"depends_on"`
	Healthcheck     *healthcheck       `yaml:"healthcheck"`
	Networks        networks           `yaml:"networks"`
}

type depends struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test    words `yaml:"test"`
	Disable bool  `yaml:"disable"`
}

type network struct {
	IPv4Address string `yaml:"ipv4_address"`
}

// words is a compose command or healthcheck test: a list, or a string split on spaces.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*w = l
	return nil
}

// env is a compose environment: a mapping, or a list of KEY=VALUE.
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	out := map[string]string{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
		*e = out
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*e = m
	return nil
}

// networks is a service's networks: a list of names, or a mapping with settings.
type networks map[string]network

func (ns *networks) UnmarshalYAML(n *yaml.Node) error {
	out := networks{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			out[name] = network{}
		}
		*ns = out
		return nil
	}
	var m map[string]*network
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = network{}
		}
	}
	*ns = out
	return nil
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// isEventrouter reports whether a service runs the eventrouter image.
func (s service) isEventrouter() bool {
	return s.Build != nil || strings.HasPrefix(s.Image, "eventrouter")
}

// longRunning reports whether compose keeps the service up (not a one-shot job).
func (s service) longRunning() bool { return s.Restart != "no" }

// interpolation is compose's ${VAR}, ${VAR:-default} and ${VAR-default}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// resolved is the service's environment as compose would pass it with none of the
// referenced host variables set: every ${VAR:-default} becomes its default.
func (s service) resolved() map[string]string {
	out := make(map[string]string, len(s.Environment))
	for k, v := range s.Environment {
		out[k] = interpolation.ReplaceAllString(v, "$2")
	}
	return out
}

// problems lists everything wrong with c; empty when it is fine. Kept apart from the
// tests so that TestComposeChecksCatchMistakes can prove each check fires.
func problems(c compose) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	for _, name := range sortedNames(c) {
		s := c.Services[name]
		for k := range s.Environment {
			if strings.HasPrefix(k, config.EnvPrefix+"_") && !known[k] {
				add("%s: %s is not the variable of any configuration key (see docs/configuration.md)", name, k)
			}
		}
		if s.longRunning() && (s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) == 0) {
			add("%s: long-running service without a healthcheck", name)
		}
		if !s.isEventrouter() {
			continue
		}
		if len(s.Command) == 0 {
			add("%s: eventrouter service without a command", name)
		}
		cfg, err := config.Load(config.Source{Env: s.resolved()})
		if err != nil {
			add("%s: its environment is not a valid configuration: %v", name, err)
			continue
		}
		if s.longRunning() {
			grace, err := time.ParseDuration(s.StopGracePeriod)
			if err != nil || grace <= cfg.Ops.ShutdownTimeout {
				add("%s: stop_grace_period %q must exceed ops.shutdown_timeout %s, or SIGTERM's graceful shutdown is cut short by SIGKILL",
					name, s.StopGracePeriod, cfg.Ops.ShutdownTimeout)
			}
		}
	}

	sender, ok := c.Services["sender"]
	switch {
	case !ok:
		add("no sender service")
	case sender.ContainerName != "" || len(sender.Ports) > 0:
		add("sender: container_name and host ports prevent `docker compose up --scale sender=N`")
	}

	topics, ok := c.Services["topics"]
	switch {
	case !ok:
		add("no topics job")
	default:
		if !slices.Equal(topics.Command, []string{"topics", "create", "--include-ingest"}) {
			add("topics: command %q, want topics create --include-ingest", topics.Command)
		}
		if topics.longRunning() {
			add(`topics: a one-shot job needs restart: "no"`)
		}
		if topics.DependsOn["kafka"].Condition != "service_healthy" {
			add("topics: must depend on kafka with condition service_healthy")
		}
	}
	for _, role := range []string{"router", "sender"} {
		s, ok := c.Services[role]
		if !ok {
			add("no %s service", role)
			continue
		}
		if s.DependsOn["topics"].Condition != "service_completed_successfully" {
			add("%s: must depend on topics with condition service_completed_successfully", role)
		}
	}
	probs = append(probs, receiverProblems(c)...)
	return probs
}

// receiverProblems checks that the senders' SSRF exemption covers the demo receiver's
// fixed address, or every demo delivery would be refused at dial time.
func receiverProblems(c compose) []string {
	recv, ok := c.Services["receiver"]
	if !ok {
		return nil
	}
	var addr netip.Addr
	for _, n := range recv.Networks {
		if n.IPv4Address != "" {
			addr, _ = netip.ParseAddr(n.IPv4Address)
		}
	}
	if !addr.IsValid() {
		return []string{"receiver: needs a fixed ipv4_address for the senders' egress.allow_cidrs"}
	}
	var probs []string
	for _, name := range []string{"sender", "api"} {
		s, ok := c.Services[name]
		if !ok {
			continue
		}
		cfg, err := config.Load(config.Source{Env: s.resolved()})
		if err != nil {
			continue // reported by problems
		}
		if !slices.ContainsFunc(cfg.Egress.AllowPrefixes(), func(p netip.Prefix) bool { return p.Contains(addr) }) {
			probs = append(probs, fmt.Sprintf("%s: egress.allow_cidrs %v does not contain the receiver's %s", name, cfg.Egress.AllowCIDRs, addr))
		}
	}
	return probs
}

func sortedNames(c compose) []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func TestCompose(t *testing.T) {
	for _, p := range problems(loadCompose(t)) {
		t.Error(p)
	}
}

// TestComposeChecksCatchMistakes breaks a correct compose file in the ways people do
// and expects each to be reported.
func TestComposeChecksCatchMistakes(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(c compose)
		want   string
	}{
		{"misspelled variable", func(c compose) {
			c.Services["router"].Environment["EVENTROUTER_KAFKA_BROKER"] = "kafka:9092"
		}, "EVENTROUTER_KAFKA_BROKER is not the variable"},
		{"invalid value", func(c compose) {
			c.Services["sender"].Environment["EVENTROUTER_DELIVERY_TIMEOUT"] = "fifteen seconds"
		}, "delivery.timeout"},
		{"fixed container name on sender", func(c compose) {
			s := c.Services["sender"]
			s.ContainerName = "sender"
			c.Services["sender"] = s
		}, "--scale"},
		{"no healthcheck", func(c compose) {
			s := c.Services["router"]
			s.Healthcheck = nil
			c.Services["router"] = s
		}, "router: long-running service without a healthcheck"},
		{"router starts before topics exist", func(c compose) {
			s := c.Services["router"]
			s.DependsOn = map[string]depends{"kafka": {Condition: "service_started"}}
			c.Services["router"] = s
		}, "router: must depend on topics"},
		{"short stop grace period", func(c compose) {
			s := c.Services["sender"]
			s.StopGracePeriod = "10s"
			c.Services["sender"] = s
		}, "stop_grace_period"},
		{"receiver outside the SSRF exemption", func(c compose) {
			c.Services["sender"].Environment["EVENTROUTER_EGRESS_ALLOW_CIDRS"] = "10.0.0.0/8"
		}, "does not contain the receiver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCompose(t) // a fresh copy: the maps are not shared between cases
			tc.break_(c)
			probs := problems(c)
			if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentioning %q; got %q", tc.want, probs)
			}
		})
	}
}

// testVersion is linked into the test binary.
const testVersion = "v0.0.0-deploytest"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds cmd/eventrouter once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventrouter-deploy-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "eventrouter")
		// The same -X flag as the Dockerfile's, so TestVersionLdflag can check it.
		cmd := exec.Command("go", "build", "-o", binPath,
			"-ldflags", "-X github.com/claimable/eventrouter/internal/version.Version="+testVersion, "./cmd/eventrouter")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/eventrouter: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestComposeCommandsExist runs every eventrouter service's command with --help against
// the real binary: the subcommand path must resolve (cobra prints its usage line) and
// every flag must parse (an unknown flag fails before --help is honoured).
func TestComposeCommandsExist(t *testing.T) {
	c := loadCompose(t)
	bin := binary(t)
	for _, name := range sortedNames(c) {
		s := c.Services[name]
		if !s.isEventrouter() || len(s.Command) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if err := commandExists(bin, s.Command); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCommandCheckCatchesMistakes proves commandExists rejects what compose would fail on.
func TestCommandCheckCatchesMistakes(t *testing.T) {
	bin := binary(t)
	for _, args := range [][]string{
		{"routerr"},
		{"topics", "creat"},
		{"topics", "create", "--include-ingests"},
	} {
		if err := commandExists(bin, args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func commandExists(bin string, args []string) error {
	var path []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		path = append(path, a)
	}
	cmd := exec.Command(bin, append(slices.Clone(args), "--help")...)
	cmd.Env = []string{"HOME=" + os.TempDir()} // no EVENTROUTER_* from the test's environment
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("eventrouter %s --help: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("eventrouter %s --help did not exit within 30s", strings.Join(args, " "))
	}
	// cobra falls back to the nearest parent's help for an unknown subcommand below the
	// root, so the usage line must name the whole path.
	usage := regexp.MustCompile(`(?m)^  eventrouter ` + regexp.QuoteMeta(strings.Join(path, " ")) + `( |$)`)
	if !usage.MatchString(out.String()) {
		return fmt.Errorf("eventrouter %s: not a command (its --help shows another command's usage)\n%s", strings.Join(path, " "), out.String())
	}
	return nil
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var froms []string
	var user string // the last USER of the last stage
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, strings.Fields(rest)[0])
			user = ""
		case "USER":
			user = strings.TrimSpace(rest)
		}
	}
	if len(froms) < 2 {
		t.Errorf("FROM %q: want a multi-stage build (builder, then a small runtime)", froms)
	} else {
		if !strings.HasPrefix(froms[0], "golang:1.26") {
			t.Errorf("builder stage is %s, want golang:1.26 (go.mod's Go version)", froms[0])
		}
		if strings.HasPrefix(froms[len(froms)-1], "golang") {
			t.Errorf("runtime stage is %s: ship the binary, not the toolchain", froms[len(froms)-1])
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("runtime stage runs as %q: want a non-root USER", user)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", `-s -w`,
		"-X github.com/claimable/eventrouter/internal/version.Version=",
		`ENTRYPOINT ["eventrouter"]`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The compose healthchecks call wget inside the eventrouter image: the runtime base
	// must have it (busybox in Alpine; distroless and scratch have none).
	if c := loadCompose(t); usesWget(c) && !strings.HasPrefix(froms[len(froms)-1], "alpine") {
		t.Errorf("compose healthchecks run wget in the eventrouter image, whose runtime base %s may lack it", froms[len(froms)-1])
	}
}

func usesWget(c compose) bool {
	for _, s := range c.Services {
		if s.isEventrouter() && s.Healthcheck != nil && slices.Contains(s.Healthcheck.Test, "wget") {
			return true
		}
	}
	return false
}

// TestVersionLdflag checks the Dockerfile's -X flag takes effect: the linker silently
// ignores -X for a variable that does not exist.
func TestVersionLdflag(t *testing.T) {
	out, err := exec.Command(binary(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("eventrouter version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), testVersion) {
		t.Errorf("eventrouter version printed %q, want the version set with -X (%s)", out, testVersion)
	}
}
