package main

import (
	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/app"
)

type role struct {
	name, short, long string
	roles             app.Roles
}

var (
	roleRouter = role{"router", "Run the router: validate ingest events, match subscriptions, fan out exactly once",
		`Consumes the ingest topics (topics.ingest) as consumer group router.group and, inside one
Kafka transaction per batch, writes one record per matching subscription to
topics.deliveries (key = subscription id) and every invalid record to topics.invalid with
its reason. Scale out by starting more router processes: partitions bound the parallelism.`,
		app.Roles{Router: true}}
	roleSender = role{"sender", "Run the sender: deliver webhooks with per-subscription lanes, retries and a DLQ",
		`Consumes topics.deliveries and the retry tiers as consumer group delivery.group and POSTs
each delivery, signed per Standard Webhooks, to its subscription's endpoint. Failures go to
the retry tier topics and, when the schedule is exhausted, to topics.dlq. Offsets are
committed only for finished deliveries. Scale out by starting more sender processes.`,
		app.Roles{Sender: true}}
	roleAPI = role{"api", "Run the admin REST API (subscriptions, secrets, attempts, redelivery)",
		`Serves the admin API on api.listen (bearer tokens from api.admin_tokens and
api.account_tokens) and its OpenAPI document at /v1/openapi.yaml.`,
		app.Roles{API: true}}
	roleAll = role{"all", "Run router, sender and API in one process against real Kafka and Redis",
		`Runs the router, sender and admin API roles in one process, sharing one subscription
index. Convenient for small installations; large ones run each role separately.`,
		app.Roles{Router: true, Sender: true, API: true}}
)

func newRoleCmd(r role) *cobra.Command {
	cmd := &cobra.Command{
		Use:   r.name,
		Short: r.short,
		Long: r.long + `

Every role serves /metrics, /healthz and /readyz on ops.listen and shuts down gracefully on
SIGTERM within ops.shutdown_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, roleFlagKeys)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, stop := signalContext()
			defer stop()
			return app.Run(ctx, cfg, r.roles, log)
		},
	}
	if r.roles.Router || r.roles.Sender {
		cmd.Flags().String("instance-id", "", "static group member id, unique per live process of a role (kafka.instance_id; default <host>-<role>[-<ops port>])")
	}
	return cmd
}

// roleFlagKeys maps the role commands' own flags to their configuration keys.
var roleFlagKeys = map[string]string{"instance-id": "kafka.instance_id"}
