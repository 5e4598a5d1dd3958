package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
)

func newDevCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process on embedded Kafka and Redis, with a demo receiver",
		Long: `Runs the whole system in one process with nothing to install: an in-process Kafka
(kfake) and Redis (miniredis), the router, the sender, the admin API (on api.listen, with a
printed dev token), a demo receiver that verifies every signature and prints one line per
delivery, a demo subscription to every event of account acct_demo, and one sample event of
every catalogue name each --interval. The Kafka bootstrap address is printed so you can
produce your own events with 'eventrouter emit'. Ctrl-C stops everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-format") {
				_ = cmd.Flags().Set("log-format", "console")
			}
			if !cmd.Flags().Changed("log-level") {
				_ = cmd.Flags().Set("log-level", "warn")
			}
			cfg, err := devConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			kafkaAddr, _ := cmd.Flags().GetString("kafka-listen")
			recvAddr, _ := cmd.Flags().GetString("receiver-listen")
			interval, _ := cmd.Flags().GetDuration("interval")
			ctx, stop := signalContext()
			defer stop()
			return app.RunDev(ctx, cfg, app.DevOptions{
				KafkaAddr: kafkaAddr, ReceiverAddr: recvAddr, Interval: interval, Out: cmd.OutOrStdout(),
			}, log)
		},
	}
	cmd.Flags().String("kafka-listen", "127.0.0.1:19092", "address of the embedded Kafka")
	cmd.Flags().String("receiver-listen", "127.0.0.1:9000", "address of the demo receiver")
	cmd.Flags().String("api-listen", "", "address of the admin API (api.listen, default 127.0.0.1:8080 in dev mode)")
	cmd.Flags().Duration("interval", time.Second, "time between rounds of sample events (0: none)")
	return cmd
}

// devListenDefaults keep everything dev mode serves — an admin API with a printed token,
// metrics, a demo receiver — on the loopback interface unless an address is given
// (flag, EVENTROUTER_* variable or file). The Kafka and receiver flags default to
// 127.0.0.1 too.
var devListenDefaults = map[string]any{
	"api.listen": "127.0.0.1:8080",
	"ops.listen": "127.0.0.1:9090",
}

// devConfig loads dev mode's configuration: the usual sources over dev's defaults.
func devConfig(cmd *cobra.Command) (config.Config, error) {
	return loadConfigWithDefaults(cmd, map[string]string{"api-listen": "api.listen"}, devListenDefaults)
}
