package main

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/replay"
)

func newReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay --from TIME --to TIME [--subscription ID | --account ID] [--event PATTERN]... [--dry-run] | --resume JOB",
		Short: "Re-deliver a time range of the ingest log to the current subscriptions",
		Long: `Reads the ingest topics from the first record at or after --from up to (excluding) the
first at or after --to, bounded by the end offsets when the job is planned, re-matches each
event against the current subscriptions and produces its deliveries again, with the same
webhook-id as the first time (receivers dedupe) and an er-replay record header naming the
job. Progress is checkpointed in Redis: if the command is interrupted or crashes, run it
again with --resume JOB to continue where it stopped. --dry-run only counts, per
subscription and event name. The rate is api.replay_rate (or --rate) deliveries per second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, map[string]string{"rate": "api.replay_rate"})
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			resume, _ := f.GetString("resume")
			var spec replay.Spec
			if resume == "" {
				if spec, err = replaySpec(cmd, cfg.Events.Catalogue); err != nil {
					return err
				}
			}
			eng, release, err := app.OpenReplayEngine(cfg, log)
			if err != nil {
				return err
			}
			defer release()
			defer eng.Close()
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			if resume == "" {
				j, err := eng.Create(ctx, spec)
				if err != nil {
					return err
				}
				resume = j.ID
			}
			fmt.Fprintf(out, "replay job %s\n", resume)
			job, err := eng.Run(ctx, resume)
			if job != nil {
				printReplay(out, job)
			}
			if job != nil && job.State != replay.StateDone && !errors.Is(err, replay.ErrJobBusy) {
				fmt.Fprintf(out, "resume with: eventrouter replay --resume %s\n", job.ID)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.String("from", "", "start of the window (RFC 3339, e.g. 2026-11-30T10:00Z)")
	f.String("to", "", "end of the window, excluded (RFC 3339)")
	f.String("subscription", "", "only this subscription")
	f.String("account", "", "only this account's subscriptions")
	f.StringSlice("event", nil, `only these event patterns ("claim.closed", "claim.*"); repeatable`)
	f.Bool("dry-run", false, "count per subscription and event name, produce nothing")
	f.String("resume", "", "continue this stopped or failed job from its checkpoint")
	f.Float64("rate", 0, "deliveries per second (api.replay_rate)")
	return cmd
}

// replaySpec reads and validates the window and filters from the flags.
func replaySpec(cmd *cobra.Command, catalogue []string) (replay.Spec, error) {
	f := cmd.Flags()
	var spec replay.Spec
	from, _ := f.GetString("from")
	to, _ := f.GetString("to")
	if from == "" || to == "" {
		return spec, errors.New("--from and --to are required (or --resume JOB)")
	}
	var err error
	if spec.From, err = replay.ParseTime(from); err != nil {
		return spec, fmt.Errorf("--from: %w", err)
	}
	if spec.To, err = replay.ParseTime(to); err != nil {
		return spec, fmt.Errorf("--to: %w", err)
	}
	spec.SubscriptionID, _ = f.GetString("subscription")
	spec.AccountID, _ = f.GetString("account")
	spec.Events, _ = f.GetStringSlice("event")
	spec.DryRun, _ = f.GetBool("dry-run")
	return spec, spec.Validate(catalogue)
}

// printReplay prints a job's state and its counts per subscription and event name.
func printReplay(w io.Writer, j *replay.Job) {
	verb := "deliveries"
	if j.Spec.DryRun {
		verb = "deliveries (dry run: nothing produced)"
	}
	fmt.Fprintf(w, "state %s, progress %.1f%%, records read %d, skipped %v, %d %s\n",
		j.State, 100*j.Progress(), j.Read, j.Skipped, j.Deliveries, verb)
	if j.Error != "" {
		fmt.Fprintf(w, "error: %s\n", j.Error)
	}
	subs := make([]string, 0, len(j.Counts))
	for s := range j.Counts {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, s := range subs {
		names := make([]string, 0, len(j.Counts[s]))
		for n := range j.Counts[s] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "%-32s %-24s %d\n", s, n, j.Counts[s][n])
		}
	}
}
