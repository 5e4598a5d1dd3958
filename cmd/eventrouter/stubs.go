package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// notBuilt is returned by commands whose stage does not exist yet: they say so and exit
// non-zero rather than pretend to work.
func notBuilt(what string) error {
	return fmt.Errorf("%s is not built yet", what)
}

func newDevCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process on embedded Kafka and Redis, with a demo receiver",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("dev mode") },
	}
}

func newEmitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "emit",
		Short: "Produce well-formed sample events to an ingest topic",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("emit") },
	}
}

func newRoutesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "routes", Short: "Apply subscriptions declared in a routes file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create, update (and with --prune delete) subscriptions to match FILE",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("routes apply") },
	})
	return cmd
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and re-drive the dead-letter queue"}
	cmd.AddCommand(&cobra.Command{
		Use:   "redrive",
		Short: "Send dead-lettered deliveries back to the deliveries topic",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return notBuilt("dlq redrive") },
	})
	return cmd
}
