package config

import (
	"bytes"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// Redacted replaces a secret value when configuration is printed.
const Redacted = "(redacted)"

// Redact returns a copy of c with every secret (fields tagged secret:"true") replaced
// by Redacted; empty secrets stay empty so an operator can see they are unset.
func (c Config) Redact() Config {
	v := reflect.ValueOf(&c).Elem()
	redact(v)
	return c
}

func redact(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			redact(fv)
			continue
		}
		if t.Field(i).Tag.Get("secret") != "true" {
			continue
		}
		switch fv.Kind() {
		case reflect.String:
			if fv.String() != "" {
				fv.SetString(Redacted)
			}
		case reflect.Slice:
			n := reflect.MakeSlice(fv.Type(), fv.Len(), fv.Len())
			for j := 0; j < fv.Len(); j++ {
				n.Index(j).SetString(Redacted)
			}
			fv.Set(n)
		}
	}
}

// YAML renders c (call Redact first) as YAML with durations written like "30s".
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(toTree(reflect.ValueOf(c))); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func toTree(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		m := yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			var val yaml.Node
			_ = val.Encode(toTree(v.Field(i)))
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: t.Field(i).Tag.Get("yaml")}, &val)
		}
		return &m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toTree(v.Index(i))
		}
		return out
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return v.Interface()
}
