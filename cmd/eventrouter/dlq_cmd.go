package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/delivery"
)

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Re-drive the dead-letter queue"}
	redrive := &cobra.Command{
		Use:   "redrive [--subscription ID] [--since TIME]",
		Short: "Send dead-lettered deliveries back to the deliveries topic",
		Long: `Reads the DLQ from the start (or from --since, an RFC 3339 time or a duration ago such
as 24h) up to its end at the moment the command starts, and produces each matching delivery
back to the deliveries topic with a fresh attempt count and the same webhook-id, so
receivers can still deduplicate. Re-enable a disabled subscription first, or its
deliveries return to the DLQ. --dry-run only counts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, opts, err := kafkaCommand(cmd)
			if err != nil {
				return err
			}
			sub, _ := cmd.Flags().GetString("subscription")
			sinceFlag, _ := cmd.Flags().GetString("since")
			dry, _ := cmd.Flags().GetBool("dry-run")
			reasonFlags, _ := cmd.Flags().GetStringSlice("reason")
			var reasons []delivery.Reason
			for _, r := range reasonFlags {
				reasons = append(reasons, delivery.Reason(r))
			}
			since, err := parseSince(sinceFlag)
			if err != nil {
				return fmt.Errorf("--since %q: %w", sinceFlag, err)
			}
			ctx, stop := signalContext()
			defer stop()
			rep, err := delivery.Redrive(ctx, delivery.RedriveOptions{
				KafkaOpts: opts, DLQTopic: cfg.Topics.DLQ, DeliveriesTopic: cfg.Topics.Deliveries, SubscriptionID: sub, Since: since, Reasons: reasons, DryRun: dry, Log: log,
			})
			fmt.Fprintf(cmd.OutOrStdout(), "scanned %d, matched %d, re-driven %d, not delivery records %d\n",
				rep.Scanned, rep.Matched, rep.Redriven, rep.Invalid)
			return err
		},
	}
	redrive.Flags().String("subscription", "", "only this subscription's deliveries")
	redrive.Flags().String("since", "", "only records from this time (RFC 3339) or this long ago (24h)")
	redrive.Flags().Bool("dry-run", false, "count without producing")
	redrive.Flags().StringSlice("reason", nil, "only records with this er-reason (repeatable), e.g. subscription_disabled")
	cmd.AddCommand(redrive)
	return cmd
}
