package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes every environment variable: kafka.brokers is EVENTROUTER_KAFKA_BROKERS.
const EnvPrefix = "EVENTROUTER"

// Source says where configuration comes from, lowest precedence first: defaults, then
// File, then EVENTROUTER_* environment variables, then the changed Flags.
type Source struct {
	// File is a YAML file; empty for none.
	File string
	// Flags holds command-line flags; FlagKeys maps a flag's name to its config key
	// (for example "brokers" → "kafka.brokers"). Only flags the user set take effect.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
	// Env overrides the process environment (tests); nil means os.Environ.
	Env map[string]string
	// Defaults replaces built-in defaults for one command (dev mode binds its listeners
	// to 127.0.0.1); the file, the environment and flags still override them. Keys must
	// be configuration keys.
	Defaults map[string]any
}

// Load reads the configuration from src and validates it. On failure the error is a
// *Problems listing every problem found, each naming its key.
func Load(src Source) (Config, error) {
	cfg, err := load(src)
	var loadProbs *Problems
	if err != nil && !errors.As(err, &loadProbs) {
		return cfg, err
	}
	// Report bad values too, not only the keys that failed to load.
	all := &Problems{}
	if loadProbs != nil {
		all.List = append(all.List, loadProbs.List...)
	}
	var valProbs *Problems
	if errors.As(cfg.Validate(), &valProbs) {
		for _, p := range valProbs.List {
			if !all.has(p.Key) {
				all.List = append(all.List, p)
			}
		}
	}
	if len(all.List) > 0 {
		return cfg, all
	}
	return cfg, nil
}

func load(src Source) (Config, error) {
	v := viper.New()
	defaults := map[string]any{}
	flatten("", reflect.ValueOf(Default()), defaults)
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	var probs Problems
	for k, val := range src.Defaults {
		if _, ok := defaults[k]; !ok {
			return Config{}, fmt.Errorf("config: command default for unknown key %q", k)
		}
		v.SetDefault(k, val)
	}
	if src.File != "" {
		raw, err := os.ReadFile(src.File)
		if err != nil {
			return Config{}, &Problems{List: []Problem{{Key: "--config", Value: src.File, Message: err.Error()}}}
		}
		var tree map[string]any
		if err := yaml.Unmarshal(raw, &tree); err != nil {
			return Config{}, &Problems{List: []Problem{{Key: "--config", Value: src.File, Message: "not valid YAML: " + err.Error()}}}
		}
		for _, k := range fileKeys("", tree) {
			if _, ok := defaults[k]; !ok {
				probs.add(k, "", "unknown key (see eventrouter.example.yaml for every key)")
			}
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(strings.NewReader(string(raw))); err != nil {
			return Config{}, &Problems{List: []Problem{{Key: "--config", Value: src.File, Message: err.Error()}}}
		}
	}
	for k := range defaults {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if val, ok := lookupEnv(src.Env, env); ok {
			v.Set(k, listOrScalar(defaults[k], val))
		}
	}
	if src.Flags != nil {
		src.Flags.Visit(func(f *pflag.Flag) {
			key, ok := src.FlagKeys[f.Name]
			if !ok {
				return
			}
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v.Set(key, sv.GetSlice())
				return
			}
			v.Set(key, f.Value.String())
		})
	}
	var cfg Config
	err := v.Unmarshal(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		trimStrings,
		mapstructure.StringToSliceHookFunc(","),
		trimStrings,
		mapstructure.StringToTimeDurationHookFunc(),
	)))
	if err != nil {
		for _, de := range decodeErrors(err) {
			val := ""
			if raw := v.Get(de.Name()); raw != nil {
				val = strconv.Quote(fmt.Sprint(raw))
			}
			probs.add(de.Name(), val, errors.Unwrap(de).Error())
		}
		if len(probs.List) == 0 {
			probs.add("(config)", "", err.Error())
		}
	}
	if len(probs.List) > 0 {
		return cfg, &probs
	}
	return cfg, nil
}

// listOrScalar splits a comma-separated value for a list key ("1s, 5m" → ["1s","5m"]);
// viper would otherwise split on spaces.
func listOrScalar(def any, val string) any {
	if reflect.TypeOf(def).Kind() != reflect.Slice {
		return val
	}
	if strings.TrimSpace(val) == "" {
		return []string{}
	}
	parts := strings.Split(val, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// trimStrings trims spaces around each element of a comma-separated env value.
func trimStrings(from, to reflect.Type, data any) (any, error) {
	if s, ok := data.(string); ok && from.Kind() == reflect.String {
		return strings.TrimSpace(s), nil
	}
	return data, nil
}

func lookupEnv(env map[string]string, name string) (string, bool) {
	if env != nil {
		v, ok := env[name]
		return v, ok
	}
	return os.LookupEnv(name)
}

// flatten records every leaf key of a config struct with its value.
func flatten(prefix string, v reflect.Value, out map[string]any) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			flatten(key, fv, out)
			continue
		}
		out[key] = fv.Interface()
	}
}

// fileKeys lists the leaf keys of a parsed YAML tree, lower-cased like viper's.
func fileKeys(prefix string, tree map[string]any) []string {
	var keys []string
	for k, val := range tree {
		key := strings.ToLower(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		if sub, ok := val.(map[string]any); ok {
			keys = append(keys, fileKeys(key, sub)...)
			continue
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

func decodeErrors(err error) []*mapstructure.DecodeError {
	var out []*mapstructure.DecodeError
	var walk func(error)
	walk = func(e error) {
		var de *mapstructure.DecodeError
		if errors.As(e, &de) && de == e {
			out = append(out, de)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	walk(err)
	return out
}

// Keys returns every configuration key, sorted.
func Keys() []string {
	m := map[string]any{}
	flatten("", reflect.ValueOf(Default()), m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EnvName returns the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Problem is one invalid configuration value.
type Problem struct {
	Key     string
	Value   string
	Message string // what is wrong and what is allowed
}

func (p Problem) String() string {
	if p.Value == "" {
		return fmt.Sprintf("%s: %s", p.Key, p.Message)
	}
	return fmt.Sprintf("%s: %s (got %s)", p.Key, p.Message, p.Value)
}

// Problems is every problem found in a configuration.
type Problems struct {
	List []Problem
}

func (p *Problems) add(key, value, msg string) {
	p.List = append(p.List, Problem{Key: key, Value: value, Message: msg})
}

func (p *Problems) has(key string) bool {
	for _, pr := range p.List {
		if pr.Key == key {
			return true
		}
	}
	return false
}

func (p *Problems) Error() string {
	lines := make([]string, len(p.List))
	for i, pr := range p.List {
		lines[i] = "  " + pr.String()
	}
	return fmt.Sprintf("config: %d problem(s):\n%s", len(p.List), strings.Join(lines, "\n"))
}
