// Package tracing builds a process's OpenTelemetry tracer provider from its settings
// and carries W3C Trace Context (traceparent, tracestate) through Kafka record headers
// and delivery records. The pipeline stages take a trace.TracerProvider; nil means
// tracing is off and costs them nothing. See docs/tracing.md.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// DefaultTracesPath is appended to an endpoint URL given without a path: the OTLP/HTTP
// receiver's traces path.
const DefaultTracesPath = "/v1/traces"

// Options are a process's tracing settings (config tracing.*).
type Options struct {
	// Enabled turns tracing on. Off (the default), New returns a nil provider.
	Enabled bool
	// Endpoint is the OTLP/HTTP collector URL (http:// or https://); without a path,
	// DefaultTracesPath is used. Empty: the OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT variable, else http://localhost:4318/v1/traces.
	Endpoint string
	// SampleRatio is the share of new traces kept, in [0, 1]. A trace begun upstream
	// (an ingest record's traceparent) follows its parent's sampling decision.
	SampleRatio float64
	// ServiceName and ServiceVersion are the resource's service.name and
	// service.version; Role (router, sender, api, all, dev) is eventrouter.role.
	ServiceName    string
	ServiceVersion string
	Role           string
}

// ErrOptions is wrapped by every error New returns for bad Options; the message names
// the key.
var ErrOptions = errors.New("tracing: invalid settings")

// Validate names the first bad setting.
func (o Options) Validate() error {
	if !o.Enabled {
		return nil
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return fmt.Errorf("%w: tracing.sample_ratio: %v: want a number in [0, 1]", ErrOptions, o.SampleRatio)
	}
	if o.ServiceName == "" {
		return fmt.Errorf("%w: tracing.service_name: required when tracing is enabled", ErrOptions)
	}
	if o.Endpoint != "" {
		if _, err := EndpointURL(o.Endpoint); err != nil {
			return fmt.Errorf("%w: tracing.endpoint: %v", ErrOptions, err)
		}
	}
	return nil
}

// EndpointURL checks an endpoint and returns the URL spans are posted to.
func EndpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%q does not parse as a URL", endpoint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: want an http:// or https:// URL", endpoint)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q: no host", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultTracesPath
	}
	return u.String(), nil
}

// Provider is a process's tracer provider and how to flush it.
type Provider struct {
	// TracerProvider is nil when tracing is off: give it to the stages as is.
	TracerProvider trace.TracerProvider
	sdk            *sdktrace.TracerProvider
}

// Shutdown flushes the spans not yet exported (bounded by ctx) and stops the exporter.
// It does nothing when tracing is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// New builds the provider o describes: off, a Provider with a nil TracerProvider; on, an
// SDK provider with a batching OTLP/HTTP exporter, a parent-based ratio sampler and the
// service's resource. Export failures are logged (WARN) by log and never block the
// pipeline: spans are dropped when the exporter's queue is full. Nothing connects here.
func New(o Options, log *zap.Logger) (*Provider, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if !o.Enabled {
		return &Provider{}, nil
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var opts []otlptracehttp.Option
	if o.Endpoint != "" {
		u, _ := EndpointURL(o.Endpoint) // validated above
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: exporting spans failed", zap.Error(err))
	}))
	sdk := NewSDKProvider(o, sdktrace.WithBatcher(exp))
	log.Info("tracing enabled", zap.String("endpoint", o.Endpoint), zap.Float64("sample_ratio", o.SampleRatio),
		zap.String("service_name", o.ServiceName))
	return &Provider{TracerProvider: sdk, sdk: sdk}, nil
}

// NewSDKProvider returns an SDK provider with o's sampler and resource and the given
// extra options (the exporter; tests pass an in-memory one with sdktrace.WithSyncer).
func NewSDKProvider(o Options, extra ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(
		attribute.String("service.name", o.ServiceName),
		attribute.String("service.version", o.ServiceVersion),
		attribute.String("eventrouter.role", o.Role),
	)
	opts := append([]sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	}, extra...)
	return sdktrace.NewTracerProvider(opts...)
}
