package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/operational"
)

func newOpsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ops", Short: "Operational events (subscription.disabled, delivery.exhausted, …)"}
	tail := &cobra.Command{
		Use:   "tail [--since 1h] [--account ID] [--subscription ID] [--type T] [--follow]",
		Short: "Print the operational events of topics.operational",
		Long: `Reads topics.operational (docs/operational-events.md) from --since (an RFC 3339 time or
a duration ago such as 24h; default 1h) and prints one line per event: occurred_at, type,
account, subscription, id and its data. --json prints each event's body as published.
Without --follow it stops at the end of the topic as it was when it started.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, opts, err := kafkaCommand(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			sinceFlag, _ := f.GetString("since")
			since, err := parseSince(sinceFlag)
			if err != nil {
				return fmt.Errorf("--since %q: %w", sinceFlag, err)
			}
			types, _ := f.GetStringSlice("type")
			for _, typ := range types {
				if !events.IsOperational(typ) {
					return fmt.Errorf("--type %q: want one of %v", typ, events.OperationalTypes())
				}
			}
			account, _ := f.GetString("account")
			sub, _ := f.GetString("subscription")
			follow, _ := f.GetBool("follow")
			asJSON, _ := f.GetBool("json")
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			rep, err := operational.Tail(ctx, operational.TailOptions{
				KafkaOpts: opts, Topic: cfg.Topics.Operational, Since: since,
				AccountID: account, SubscriptionID: sub, Types: types, Follow: follow,
			}, func(e *events.OpEvent) error {
				if asJSON {
					b, err := e.Encode()
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(out, "%s\n", b)
					return err
				}
				data, _ := json.Marshal(e.Data)
				_, err := fmt.Fprintf(out, "%s  %-22s  %s  %s  %s  %s\n", e.OccurredAt.UTC().Format(time.RFC3339),
					e.Type, e.AccountID, e.SubscriptionID, e.ID, data)
				return err
			})
			if !asJSON {
				fmt.Fprintf(cmd.ErrOrStderr(), "read %d, matched %d, not operational events %d\n", rep.Read, rep.Matched, rep.Invalid)
			}
			return err
		},
	}
	tail.Flags().String("since", "1h", "from this time (RFC 3339) or this long ago (24h)")
	tail.Flags().String("account", "", "only this account's events")
	tail.Flags().String("subscription", "", "only events about this subscription")
	tail.Flags().StringSlice("type", nil, "only this type (repeatable): "+fmt.Sprint(events.OperationalTypes()))
	tail.Flags().BoolP("follow", "f", false, "keep printing new events until interrupted")
	tail.Flags().Bool("json", false, "print each event's JSON body")
	cmd.AddCommand(tail)
	return cmd
}

// parseSince reads a --since flag: an RFC 3339 time, or a duration back from now
// ("24h"); empty is the zero time.
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration such as 24h")
	}
	return t, nil
}

// kafkaCommand loads cmd's configuration, its logger and the Kafka client options: the
// start of every command that reads or writes topics directly.
func kafkaCommand(cmd *cobra.Command) (config.Config, *zap.Logger, []kgo.Opt, error) {
	cfg, err := loadConfig(cmd, nil)
	if err != nil {
		return cfg, nil, nil, err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return cfg, nil, nil, err
	}
	opts, err := app.KafkaOptions(cfg, log)
	return cfg, log, opts, err
}
