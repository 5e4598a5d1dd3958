// Package api is the admin REST API: subscriptions CRUD, secrets and their rotation,
// the event catalogue, delivery attempts, redelivery and test events. JSON over HTTP behind bearer tokens (admin, or scoped to one account);
// errors are RFC 9457 application/problem+json. The OpenAPI document is api/openapi.yaml,
// served at GET /v1/openapi.yaml. The delivery log page, static files calling these
// routes with the user's token, is served at /ui/ (ui.go, docs/ui.md).
package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBodyBytes    = 64 << 10
	DefaultShutdownTimeout = 10 * time.Second
	DefaultListen          = ":8080"
)

// Config configures the API server.
type Config struct {
	// Listen is the TCP address Run listens on (default ":8080").
	Listen string
	// AdminTokens see and change every account.
	AdminTokens []string
	// AccountTokens are "account_id=token" pairs; such a token sees only its account.
	AccountTokens []string
	// MaxBodyBytes bounds request bodies (default 64 KiB); larger bodies get 413.
	MaxBodyBytes int64
	// EventTypes is the event catalogue listed by GET /v1/event-types.
	EventTypes []string
	// ShutdownTimeout bounds the graceful shutdown of Run (default 10 s).
	ShutdownTimeout time.Duration
	// WriteRate and WriteBurst bound each token's writes (POST, PATCH, DELETE): a token
	// bucket per token, refilled at WriteRate per second, holding WriteBurst. TestRate
	// and TestBurst do the same, separately, for POST …/test. Past the limit the API
	// answers 429 with Retry-After. A rate of 0 means no limit (the zero Config);
	// eventrouter's configuration defaults to 10/s, burst 20, and 1/s, burst 5.
	WriteRate  float64
	WriteBurst int
	TestRate   float64
	TestBurst  int
}

// ConfigFrom builds the API's Config from the configuration sections it draws on.
func ConfigFrom(api config.API, events config.Events, ops config.Ops) Config {
	return Config{
		Listen:          api.Listen,
		AdminTokens:     api.AdminTokens,
		AccountTokens:   api.AccountTokens,
		MaxBodyBytes:    api.MaxBodyBytes,
		EventTypes:      events.Catalogue,
		ShutdownTimeout: ops.ShutdownTimeout,
		WriteRate:       api.WriteRate,
		WriteBurst:      api.WriteBurst,
		TestRate:        api.TestRate,
		TestBurst:       api.TestBurst,
	}
}

// Deps are the API's collaborators. Subscriptions is required; the delivery-stage
// interfaces may be nil, and their routes then answer 501 Not Implemented.
type Deps struct {
	Subscriptions *subscriptions.Service
	Attempts      Attempts
	Deliveries    Deliveries
	Redeliverer   Redeliverer
	TestSender    TestSender
	// Recoverer (may be nil) re-drives a re-enabled subscription's held deliveries.
	Recoverer Recoverer
	// Idempotency keeps responses to POSTs sent with an Idempotency-Key; nil: such
	// requests answer 501 (app wires RedisIdempotency).
	Idempotency IdempotencyStore
	// Replays runs replay jobs (POST /v1/replays); nil answers 501.
	Replays Replays
	// Operational reads recent operational events (GET /v1/operational-events); nil
	// answers 501.
	Operational OperationalEvents
	// Registerer receives the API's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
}

// Server is the admin API. Its handler is safe for concurrent use.
type Server struct {
	cfg     Config
	deps    Deps
	log     *zap.Logger
	auth    *authenticator
	metrics *metrics
	parser  *events.Parser // explain parses posted events as the router does
	limits  *rateLimits
	handler http.Handler

	// bgCtx bounds work that outlives a request (recoveries after a re-enable).
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

// New validates cfg (at least one token; well-formed account tokens) and builds the
// server and its routes.
func New(cfg Config, deps Deps, log *zap.Logger) (*Server, error) {
	if deps.Subscriptions == nil {
		return nil, errors.New("api: Deps.Subscriptions is required")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	auth, err := newAuthenticator(cfg.AdminTokens, cfg.AccountTokens)
	if err != nil {
		return nil, err
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	cat, err := events.NewCatalogue(cfg.EventTypes)
	if err != nil {
		return nil, fmt.Errorf("api: event types: %w", err)
	}
	s := &Server{cfg: cfg, deps: deps, log: log, auth: auth, metrics: m, parser: events.NewParser(cat, int(cfg.MaxBodyBytes)),
		limits: newRateLimits(cfg, auth)}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	for _, rt := range routeTable {
		mux.Handle(rt.pattern(), s.wrap(rt))
	}
	ui := s.ui()
	mux.Handle(uiRoute, ui)
	mux.Handle("GET /ui", ui)
	s.handler = s.observe(mux)
	return s, nil
}

// Handler returns the API's http.Handler (routes, auth, access log, metrics).
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Config.Listen and serves until ctx ends, then shuts down gracefully
// within Config.ShutdownTimeout. It returns nil after a cancel-initiated shutdown.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener, which it closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Go answers a request over this limit itself, in plain text; observe answers
		// one over MaxHeaderBytes (well below it) with problem+json.
		MaxHeaderBytes: serverMaxHeaderBytes,
		ErrorLog:       zap.NewStdLog(s.log.Named("http")),
	}
	s.log.Info("api listening", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.bgCancel() // recoveries started by re-enabling end with the server (logged; repeatable)
	s.bg.Wait()
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("api: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}
