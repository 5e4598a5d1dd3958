// Package app wires eventrouter's roles together: configuration in, running router,
// sender and API out, under one supervisor (an errgroup) that owns shutdown order.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/claimable/eventrouter/config"
)

// Roles says which roles a process runs.
type Roles struct {
	Router, Sender, API bool
}

// ErrShutdownDeadline is returned when in-flight work did not finish within
// ops.shutdown_timeout after the shutdown signal.
var ErrShutdownDeadline = errors.New("app: shutdown deadline exceeded")

// Run runs the selected roles against the Kafka cluster and Redis of cfg until ctx ends
// (SIGTERM), then shuts them down gracefully within cfg.Ops.ShutdownTimeout. It returns
// the first role's failure, which stops every other role.
func Run(ctx context.Context, cfg config.Config, roles Roles, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	tuneGoRuntime(cfg.Ops, os.ReadFile, log)
	ops := NewOps(cfg.Ops.Listen, log)
	if cfg.Ops.Pprof {
		ops.ServeProfiles()
	}
	if err := ops.Listen(); err != nil {
		return err
	}
	sys, err := Build(cfg, roles, Infra{}, log, ops)
	if err != nil {
		return err
	}
	defer sys.Close()
	return Supervise(ctx, cfg.Ops.ShutdownTimeout, log, append([]Runner{ops}, sys.Runners...)...)
}

// Runner is every long-running piece: Run returns nil when ctx is cancelled.
type Runner interface {
	Run(ctx context.Context) error
}

// RunFunc adapts a function to Runner.
type RunFunc func(ctx context.Context) error

// Run calls f.
func (f RunFunc) Run(ctx context.Context) error { return f(ctx) }

// Supervise runs every runner until ctx ends or one fails, then cancels the rest and
// waits for them at most grace after the cancellation.
func Supervise(ctx context.Context, grace time.Duration, log *zap.Logger, runners ...Runner) error {
	if log == nil {
		log = zap.NewNop()
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error {
			if err := r.Run(gctx); err != nil {
				return fmt.Errorf("%s: %w", runnerName(r), err)
			}
			return nil
		})
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-gctx.Done():
	}
	log.Info("shutting down", zap.Duration("deadline", grace))
	select {
	case err := <-done:
		if err != nil {
			return err
		}
		log.Info("shutdown complete")
		return nil
	case <-time.After(grace):
		return fmt.Errorf("%w (%s)", ErrShutdownDeadline, grace)
	}
}

// runnerName names a runner in errors: its type, e.g. "*router.Router".
func runnerName(r Runner) string {
	if _, ok := r.(RunFunc); ok {
		return "runner"
	}
	return fmt.Sprintf("%T", r)
}
