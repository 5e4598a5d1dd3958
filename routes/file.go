// Package routes applies subscriptions declared in a YAML routes file, for teams that
// keep routing in git: Load parses and checks the file, NewPlan diffs it against the
// store, (*Plan).Print renders the diff for humans, Apply carries it out. Applying the
// same file twice leaves the second plan all unchanged.
//
// A route is identified by (account_id, name); the subscriptions it creates carry the
// name, which is how a later Plan recognises them (and, with prune, deletes those no
// longer in the file). Subscriptions created through the API have no name and are never
// touched.
package routes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds a routes file.
const MaxFileBytes = 4 << 20

// File is a parsed, checked routes file.
type File struct {
	Routes []Route `yaml:"routes"`
}

// Route declares one subscription.
type Route struct {
	// Name is the route's stable key within its account: letters, digits, ".", "_", "-",
	// at most 64.
	Name      string   `yaml:"name"`
	AccountID string   `yaml:"account_id"`
	URL       string   `yaml:"url"`
	Events    []string `yaml:"events"`
	Filter    string   `yaml:"filter"`
	// Secret is the signing secret after ${VAR} expansion; empty: the store keeps (or
	// generates) one. It prints as "(set)".
	Secret      Secret            `yaml:"secret"`
	Headers     map[string]string `yaml:"headers"`
	Enabled     *bool             `yaml:"enabled"` // default true
	RateLimit   float64           `yaml:"rate_limit_per_sec"`
	MaxInFlight int               `yaml:"max_in_flight"`
	Description string            `yaml:"description"`
	// Payload ("full" or "thin") and Redact ("contact.email", …) shape the body.
	Payload string   `yaml:"payload"`
	Redact  []string `yaml:"redact"`
}

// Secret is a signing secret that never prints its value, whatever the format verb.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "(set)"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	envRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	typeRE   = regexp.MustCompile(` in type [\w.]+`)
)

// Load reads and parses the routes file at path, expanding ${VAR} secret references
// from the environment. See Parse.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("routes: read %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("routes: %s: larger than %d bytes", path, MaxFileBytes)
	}
	file, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return file, nil
}

// Parse parses a routes document strictly: unknown keys are errors naming their line,
// one YAML document only. Secrets may be literal or exactly "${VAR}", looked up with
// lookup (an unset variable is an error naming it; ${…} anywhere else is refused).
// Every route needs a valid name and an account_id, and (account_id, name) must be
// unique. Field checks against the subscription policy happen in Plan.
func Parse(data []byte, lookup func(string) (string, bool)) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("routes: the file is empty (write \"routes: []\" to declare none)")
		}
		return nil, fmt.Errorf("routes: %s", typeRE.ReplaceAllString(err.Error(), ""))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("routes: only one YAML document is allowed")
	}
	var problems []string
	seen := map[string]int{}
	for i := range f.Routes {
		r := &f.Routes[i]
		at := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			problems = append(problems, at+".name: is required")
		case !nameRE.MatchString(r.Name):
			problems = append(problems, at+".name: use 1 to 64 letters, digits, '.', '_' or '-'")
		}
		if r.AccountID == "" {
			problems = append(problems, at+".account_id: is required")
		}
		key := r.AccountID + "\x00" + r.Name
		if j, dup := seen[key]; dup && r.Name != "" {
			problems = append(problems, fmt.Sprintf("%s.name: %q is already used in account %q by routes[%d]", at, r.Name, r.AccountID, j))
		} else {
			seen[key] = i
		}
		if msg := expandSecret(r, lookup); msg != "" {
			problems = append(problems, at+".secret: "+msg)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &f, nil
}

// expandSecret replaces a "${VAR}" secret with the variable's value; it returns why it
// cannot, or "". The secret's value never appears in the message.
func expandSecret(r *Route, lookup func(string) (string, bool)) string {
	s := string(r.Secret)
	if !strings.Contains(s, "${") {
		return ""
	}
	m := envRefRE.FindStringSubmatch(s)
	if m == nil {
		return `an environment reference must be the whole value, "${NAME}"`
	}
	v, ok := lookup(m[1])
	if !ok || v == "" {
		return fmt.Sprintf("environment variable %s is not set", m[1])
	}
	r.Secret = Secret(v)
	return ""
}

// Error lists every problem found in a routes file, each naming its place
// ("routes[3].url: …").
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "routes: invalid routes file:\n  " + strings.Join(e.Problems, "\n  ")
}
