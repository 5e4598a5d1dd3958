package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/app"
)

func newSubscriptionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "subscriptions", Short: "Maintain the subscription store"}
	reseal := &cobra.Command{
		Use:   "reseal",
		Short: "Re-encrypt every stored secret and header value with the newest encryption key",
		Long: `Rewrites every subscription whose signing secrets or custom header values are not
encrypted with the first key of subscriptions.encryption_keys (plain text written before a
key was configured, or an older key of the ring), so that all are. Idempotent: a second
run rewrites nothing. Versions, ETags and the change feed are untouched (the content is
the same). Key rotation: put the new key second in the ring on every process, then first,
run this, then remove the old key (docs/operations.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			store, err := app.NewSubscriptionStore(cfg, nil, nil)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			rep, err := store.Reseal(ctx)
			fmt.Fprintf(cmd.OutOrStdout(), "checked %d subscriptions, resealed %d\n", rep.Checked, rep.Resealed)
			return err
		},
	}
	cmd.AddCommand(reseal)
	return cmd
}
