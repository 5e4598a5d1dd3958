package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Check reports whether one dependency of a role is ready; nil means ready.
type Check func(ctx context.Context) error

// Ops is the operations listener every role runs: /metrics, /healthz (the process is
// alive and serving) and /readyz (every registered check passes: Kafka reachable, group
// joined, subscriptions index fresh).
type Ops struct {
	addr     string
	registry *prometheus.Registry
	log      *zap.Logger

	profiles bool // serve /debug/pprof/ (ServeProfiles)

	mu     sync.Mutex
	checks map[string]Check
	bound  chan string
	ln     net.Listener // bound by Listen, or by Run
}

// NewOps returns an ops listener on addr with a fresh registry holding the Go runtime
// and process collectors.
func NewOps(addr string, log *zap.Logger) *Ops {
	if log == nil {
		log = zap.NewNop()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Ops{addr: addr, registry: reg, log: log, checks: map[string]Check{}, bound: make(chan string, 1)}
}

// Registry is where every package of the process registers its metrics.
func (o *Ops) Registry() *prometheus.Registry { return o.registry }

// AddCheck registers a readiness check under name.
func (o *Ops) AddCheck(name string, c Check) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = c
}

// ServeProfiles adds Go's runtime profiles (net/http/pprof) under /debug/pprof/ to the
// handler (ops.pprof). Off by default: a CPU profile costs CPU while it runs and the
// heap profile shows data, so it is opted into, like the ops port itself is kept
// internal. Call before Handler.
func (o *Ops) ServeProfiles() { o.profiles = true }

// Addr returns the bound address once the listener is up (useful with port 0).
func (o *Ops) Addr() <-chan string { return o.bound }

// Handler serves the ops endpoints.
func (o *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{Registry: o.registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", o.ready)
	if o.profiles {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (o *Ops) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	o.mu.Lock()
	names := make([]string, 0, len(o.checks))
	for n := range o.checks {
		names = append(names, n)
	}
	checks := o.checks
	o.mu.Unlock()
	sort.Strings(names)
	status := http.StatusOK
	result := make(map[string]string, len(names))
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			status = http.StatusServiceUnavailable
			result[n] = err.Error()
			continue
		}
		result[n] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": result})
}

// Listen binds the listener's address now, so that a process whose port is taken
// fails before it joins any consumer group (the derived static member ids rely on
// one process per port and host; see memberInstanceID). Run serves on it.
func (o *Ops) Listen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("ops.listen: %w", err)
	}
	o.ln = ln
	return nil
}

// Run serves until ctx ends, then shuts down within five seconds. It binds the
// address unless Listen did.
func (o *Ops) Run(ctx context.Context) error {
	if err := o.Listen(); err != nil {
		return err
	}
	o.mu.Lock()
	ln := o.ln
	o.mu.Unlock()
	o.bound <- ln.Addr().String()
	o.log.Info("ops listener started", zap.String("addr", ln.Addr().String()))
	srv := &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return serveRunner(srv, ln).Run(ctx)
}
