package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/routes"
)

func newRoutesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "routes", Short: "Apply subscriptions declared in a routes file"}
	apply := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create, update (and with --prune delete) subscriptions to match FILE",
		Long: `Reads FILE (YAML: a list of routes, each with a stable name per account) and makes the
subscription store match it: creates missing routes, updates changed ones, leaves unchanged
ones alone and, with --prune, deletes routes-managed subscriptions absent from the file.
Prints the plan first; --dry-run stops there. Secrets may reference environment variables
(${NAME}) and are never printed. Applying the same file twice changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("file")
			if path == "" {
				return errors.New("routes apply: -f FILE is required")
			}
			dry, _ := cmd.Flags().GetBool("dry-run")
			prune, _ := cmd.Flags().GetBool("prune")
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			file, err := routes.Load(path)
			if err != nil {
				return err
			}
			store, err := app.NewSubscriptionStore(cfg, nil, nil)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			plan, err := routes.NewPlan(ctx, store.Service, file, prune)
			if err != nil {
				return err
			}
			if err := plan.Print(cmd.OutOrStdout()); err != nil {
				return err
			}
			if dry || !plan.HasChanges() {
				return nil
			}
			if err := routes.Apply(ctx, plan); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "applied")
			return nil
		},
	}
	apply.Flags().StringP("file", "f", "", "routes file")
	apply.Flags().Bool("dry-run", false, "print the plan without changing anything")
	apply.Flags().Bool("prune", false, "delete routes-managed subscriptions absent from the file")
	cmd.AddCommand(apply)
	return cmd
}
