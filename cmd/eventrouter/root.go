package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/logging"
	"github.com/claimable/eventrouter/internal/version"
)

// globalFlagKeys maps the persistent flags to their configuration keys.
var globalFlagKeys = map[string]string{
	"brokers":    "kafka.brokers",
	"redis":      "redis.addr",
	"log-level":  "log.level",
	"log-format": "log.format",
	"ops-listen": "ops.listen",
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "eventrouter",
		Short: "Kafka-driven, signed webhooks for the claims platform",
		Long: `eventrouter matches claims and contacts events from Kafka against customers'
webhook subscriptions and delivers them, signed per Standard Webhooks, retrying for days
without losing one or letting one slow endpoint hold up another.

Pipeline: ingest topics → router (exactly-once fan-out) → webhooks.deliveries →
sender (per-subscription lanes, retry tiers, DLQ) → customer endpoints.

Configuration: defaults < --config FILE < EVENTROUTER_* environment < flags.
See docs/configuration.md and eventrouter.example.yaml.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	pf := root.PersistentFlags()
	pf.StringP("config", "c", "", "YAML configuration file")
	pf.StringSlice("brokers", nil, "Kafka seed brokers host:port,... (kafka.brokers)")
	pf.String("redis", "", "Redis address host:port (redis.addr)")
	pf.String("log-level", "", "debug, info, warn or error (log.level)")
	pf.String("log-format", "", "json or console (log.format)")
	pf.String("ops-listen", "", "address of /metrics, /healthz, /readyz (ops.listen)")

	root.AddCommand(
		newRoleCmd(roleRouter), newRoleCmd(roleSender), newRoleCmd(roleAPI), newRoleCmd(roleAll),
		newDevCmd(), newEmitCmd(), newTopicsCmd(), newRoutesCmd(), newSubscriptionsCmd(), newExplainCmd(), newDLQCmd(), newOpsCmd(), newReplayCmd(), newConfigCmd(), newBenchCmd(), newVersionCmd(),
	)
	return root
}

// loadConfig reads the configuration for cmd: its --config file, the environment and
// the flags the user set.
func loadConfig(cmd *cobra.Command, extraKeys map[string]string) (config.Config, error) {
	return loadConfigWithDefaults(cmd, extraKeys, nil)
}

// loadConfigWithDefaults is loadConfig with some built-in defaults replaced for cmd.
func loadConfigWithDefaults(cmd *cobra.Command, extraKeys map[string]string, defaults map[string]any) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	keys := make(map[string]string, len(globalFlagKeys)+len(extraKeys))
	for k, v := range globalFlagKeys {
		keys[k] = v
	}
	for k, v := range extraKeys {
		keys[k] = v
	}
	return config.Load(config.Source{File: file, Flags: cmd.Flags(), FlagKeys: keys, Defaults: defaults})
}

// newLogger builds the process logger; it falls back to a console logger for errors
// that happen before configuration is loaded.
func newLogger(cfg config.Config) (*zap.Logger, error) {
	return logging.New(cfg.Log)
}

// signalContext is cancelled on SIGINT or SIGTERM: the start of a graceful shutdown.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			cmd.Println("eventrouter " + version.String())
		},
	}
}
