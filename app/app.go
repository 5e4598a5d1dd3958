// Package app wires eventrouter's roles together: configuration in, running router,
// sender and API out, under one supervisor that owns shutdown order.
package app

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
)

// Roles says which roles a process runs.
type Roles struct {
	Router, Sender, API bool
}

// ErrNotBuilt is returned for a role whose stage does not exist yet.
var ErrNotBuilt = errors.New("app: role not built yet")

// Run runs the selected roles until ctx ends.
func Run(ctx context.Context, cfg config.Config, roles Roles, log *zap.Logger) error {
	return ErrNotBuilt
}
