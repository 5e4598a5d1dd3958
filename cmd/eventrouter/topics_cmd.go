package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/topics"
)

func newTopicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create and describe the Kafka topics eventrouter uses",
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create every topic the system uses (idempotent)",
		Long: `Creates the deliveries, retry tier, DLQ and invalid topics (and the ingest topics with
--include-ingest) with topics.partitions, topics.replication_factor and the configured
retention. Topics that exist are reported, not changed; a partition count that differs
from the configuration is reported as a warning. A topics.replication_factor larger
than the cluster's live brokers is refused before anything is created. Without
--include-ingest, ingest topics that do not exist are named: the router waits for them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ingest, _ := cmd.Flags().GetBool("include-ingest")
			return withKafka(cmd, func(ctx context.Context, cfg config.Config, cl *kgo.Client) error {
				res, err := topics.Create(ctx, kadm.NewClient(cl), app.TopicSpecs(cfg, ingest))
				for _, r := range res {
					line := fmt.Sprintf("%-8s %s (%d partitions)", r.Status, r.Topic, r.Partitions)
					if r.Warning != "" {
						line += "  warning: " + r.Warning
					}
					if r.Err != nil {
						line += "  error: " + r.Err.Error()
					}
					fmt.Fprintln(cmd.OutOrStdout(), line)
				}
				if err == nil && !ingest {
					err = noteMissingIngest(ctx, cmd, kadm.NewClient(cl), cfg.Topics.Ingest)
				}
				return err
			})
		},
	}
	create.Flags().Bool("include-ingest", false, "also create the ingest topics (normally owned by upstream teams)")
	describe := &cobra.Command{
		Use:   "describe",
		Short: "Show every topic with its partitions and each consumer group's lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKafka(cmd, func(ctx context.Context, cfg config.Config, cl *kgo.Client) error {
				rep, err := topics.Describe(ctx, cl, app.TopicSpecs(cfg, true),
					[]string{cfg.Router.Group, cfg.Delivery.Group, cfg.Router.OperationalGroup})
				if err != nil {
					return err
				}
				return rep.Print(cmd.OutOrStdout())
			})
		},
	}
	cmd.AddCommand(create, describe)
	return cmd
}

// noteMissingIngest names the ingest topics that do not exist, which `topics create`
// leaves to their owners unless --include-ingest is given.
func noteMissingIngest(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, ingest []string) error {
	details, err := adm.ListTopics(ctx, ingest...)
	if err != nil {
		return fmt.Errorf("topics: check the ingest topics: %w", err)
	}
	for _, t := range ingest {
		if d, ok := details[t]; !ok || d.Err != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "missing  %s (ingest topic: the router waits for it; create it with --include-ingest, or ask its owners)\n", t)
		}
	}
	return nil
}

// withKafka loads the configuration and runs fn with a Kafka client, bounded to one
// minute.
func withKafka(cmd *cobra.Command, fn func(context.Context, config.Config, *kgo.Client) error) error {
	cfg, err := loadConfig(cmd, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	cl, err := app.KafkaClient(cfg, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	log.Debug("kafka admin client", zap.Strings("brokers", cfg.Kafka.Brokers))
	return fn(ctx, cfg, cl)
}
