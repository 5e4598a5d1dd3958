package config

import (
	"fmt"
	"strconv"

	"github.com/claimable/eventrouter/internal/tracing"
)

// validate checks the tracing block; only its range and form, whether enabled or not, so
// a bad value is caught before someone turns tracing on.
func (t Tracing) validate(p *Problems) {
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		p.add("tracing.sample_ratio", fmt.Sprint(t.SampleRatio), "must be between 0 and 1")
	}
	if t.Enabled {
		nonEmpty(p, "tracing.service_name", t.ServiceName)
	}
	if t.Endpoint != "" {
		if _, err := tracing.EndpointURL(t.Endpoint); err != nil {
			p.add("tracing.endpoint", strconv.Quote(t.Endpoint), "must be an http:// or https:// URL with a host (OTLP/HTTP; without a path /v1/traces is used)")
		}
	}
}

// TracingOptions are the tracing settings of a process running role.
func (t Tracing) TracingOptions(role, version string) tracing.Options {
	return tracing.Options{
		Enabled: t.Enabled, Endpoint: t.Endpoint, SampleRatio: t.SampleRatio,
		ServiceName: t.ServiceName, ServiceVersion: version, Role: role,
	}
}
