// Package logging builds the process's zap logger from configuration.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/claimable/eventrouter/config"
)

// New returns a logger writing to stderr: JSON by default, human-readable "console" for
// dev; level from cfg. Timestamps are ISO 8601 in both formats.
func New(cfg config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	var zc zap.Config
	switch cfg.Format {
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
	default:
		zc = zap.NewProductionConfig()
		zc.Sampling = nil // never drop error lines silently
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

// Nop returns a logger that discards everything, for tests and library defaults.
func Nop() *zap.Logger { return zap.NewNop() }
