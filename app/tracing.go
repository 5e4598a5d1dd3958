package app

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/version"
)

// tracingFlushTimeout bounds the flush of unexported spans when the process stops.
const tracingFlushTimeout = 5 * time.Second

// buildTracing makes the process's tracer provider from cfg.Tracing (a nil
// TracerProvider when tracing is off, which the stages take as "no tracing") and
// flushes it last on Close.
func buildTracing(cfg config.Config, roles Roles, sys *System, log *zap.Logger) error {
	p, err := tracing.New(cfg.Tracing.TracingOptions(roles.name(), version.Version), log.Named("tracing"))
	if err != nil {
		return err
	}
	sys.Tracing = p
	sys.closers = append(sys.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			log.Warn("tracing: flushing spans at shutdown failed; the last spans are lost", zap.Error(err))
		}
	})
	return nil
}

// name is the roles as the eventrouter.role resource attribute: router, sender, api,
// or several joined with "+".
func (r Roles) name() string {
	var names []string
	for _, n := range []struct {
		on   bool
		name string
	}{{r.Router, "router"}, {r.Sender, "sender"}, {r.API, "api"}} {
		if n.on {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, "+")
}
